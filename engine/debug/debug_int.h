/* debug_int: the debugger's state shared by its two files: debug.c (the
 * points, conditions, planting int3s and stepping) and debug_exec.c (what
 * runs on vCPU threads: applying guest-debug state and taking hits). */
#ifndef HVWB_DEBUG_INT_H
#define HVWB_DEBUG_INT_H

#include "engine/debug/debug.h"
#include "engine/core/vm_internal.h"

struct planted {
	int id;
	uint64_t gpa;
	uint8_t orig;
};

struct debug_state {
	struct debug_point pts[DEBUG_MAX_BREAKPOINTS];
	int npts, next_id;
	int next_temp_id;        /* temporary points (next, finish) count apart, from TEMP_ID_BASE */
	bool stepping, step_irqs;
	int step_vcpu;           /* the vCPU a step runs alone */
	uint64_t steps_left, steps_done;
	uint64_t step_deadline_ns;   /* vm_step_with: when to give up (0: never) */
	struct planted planted[DEBUG_MAX_BREAKPOINTS];
	int nplanted;
	bool soft_watch;         /* watching by single-stepping and comparing */
	uint64_t step_from_ip;   /* RIP (not linear) where the current step began */
	uint64_t prev_rip;       /* soft_watch: the instruction about to execute */
	const struct host_probe *host; /* what the VM's accelerator can do here */
};

/* Linear -> guest-physical for planting int3s and reading watched values. */
int debug_linear_to_phys(struct vcpu *v, uint64_t la, uint64_t *gpa);
/* cs.base + rip of a stopped vCPU, ~0 when unreadable. */
uint64_t debug_linear_rip(struct vcpu *v);
bool debug_is_watch(enum debug_kind k);
/* Whether a point of this kind takes one of DR0-DR3. */
bool debug_uses_slot(const struct debug_state *d, enum debug_kind k);
bool debug_is_planted(struct debug_state *d, int id);
/* Plants every enabled software breakpoint not planted yet, except those a
 * vCPU is stepping off (engine_lock held). */
void debug_plant_all(struct vm *vm);
/* The vCPU that runs alone for a step or a software watch. */
bool debug_is_focus(const struct vcpu *v);

#endif
