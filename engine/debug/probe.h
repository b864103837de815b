/* probe: what this host's KVM can do for a debugger, found by running tiny
 * guests once per process (single-step, instruction and data breakpoints,
 * int3) at ring 0 and ring 3. Hosts differ: PVM hosts emulate ring-0 code and
 * cannot step ring-3 code (see HOST-KVM.md); the engine asks here instead of
 * hanging or killing the guest. */
#ifndef HVWB_PROBE_H
#define HVWB_PROBE_H

#include <stdbool.h>

enum probe_int3 { INT3_UNKNOWN, INT3_DEBUG_EXIT, INT3_EMULATION_FAILURE, INT3_TO_GUEST };

struct probe_ring {
	bool step;        /* KVM_GUESTDBG_SINGLESTEP gives one exit per instruction */
	bool hw_break;    /* DR0-3 execute breakpoints exit to us */
	bool hw_watch;    /* DR0-3 data (write) breakpoints exit to us */
	enum probe_int3 int3; /* what a planted int3 with KVM_GUESTDBG_USE_SW_BP does */
};

struct host_probe {
	bool done;
	struct probe_ring ring[4]; /* [0] and [3] are probed */
	bool block_irq;            /* KVM_GUESTDBG_BLOCKIRQ is offered */
};

struct accel_ops;
/* Runs the probe on accelerator `a` the first time; later calls return the
 * same answers. All false where the accelerator cannot run here. */
const struct host_probe *probe_accel(const struct accel_ops *a);
const char *probe_int3_name(enum probe_int3 v);

#endif
