/* vcpu_observer: how the run loop lets others see a vCPU at work without
 * knowing them, as it already knows no device. An observer is a table of
 * three optional hooks; the loop calls every observer's hook, in the order of
 * vcpu_observers[] (vcpu_observers.c, the one place that names them: the
 * debugger, then the fallback instructions; next the exit trace, the
 * recorder and resource throttling). All hooks run on the vCPU's thread. */
#ifndef HVWB_VCPU_OBSERVER_H
#define HVWB_VCPU_OBSERVER_H

#include <stdbool.h>

struct vcpu;

enum vcpu_halt_verdict {
	HALT_OK,       /* halted as far as this observer knows */
	HALT_STALE,    /* not really halted (a stale MP state): let it run */
	HALT_HANDLED,  /* the observer stopped the VM itself */
};

struct vcpu_observer {
	const char *name;
	/* The vCPU leaves its park to run the guest. */
	void (*enter)(struct vcpu *v);
	/* After an exit, once the loop has done its own part (the device bus for
	 * I/O and MMIO). True: the observer took the exit, so the observers after
	 * it and the loop's default for that exit (a stop) do not run. */
	bool (*exit)(struct vcpu *v);
	/* The idle check finds the vCPU in KVM_MP_STATE_HALTED. */
	enum vcpu_halt_verdict (*halted)(struct vcpu *v);
};

void vcpu_observe_enter(struct vcpu *v);
bool vcpu_observe_exit(struct vcpu *v);
enum vcpu_halt_verdict vcpu_observe_halted(struct vcpu *v);

#endif
