/* debug: single-step, breakpoints and watchpoints of a VM. The main thread
 * records what it wants (under engine_lock); each vCPU thread applies it with
 * KVM_SET_GUEST_DEBUG when it leaves its park, and its run loop reports hits
 * as stops. Breakpoints use the debug registers DR0-3 unless asked to be
 * software ones (int3 planted in guest memory only while the VM runs, so no
 * read or snapshot ever sees a 0xCC). */
#ifndef HVWB_DEBUG_H
#define HVWB_DEBUG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct vcpu;
struct vm_stop;

#define DEBUG_MAX_BREAKPOINTS 64
#define DEBUG_HW_SLOTS 4

enum debug_kind { DBG_HW_EXEC, DBG_SW_EXEC, DBG_WATCH_WRITE, DBG_WATCH_RW };

struct debug_point {
	int id;                 /* > 0 */
	enum debug_kind kind;
	uint64_t addr;          /* linear address (CS/DS base + offset) */
	unsigned len;           /* watchpoints: 1, 2, 4 or 8 */
	bool enabled;
	bool temporary;         /* deleted at its first hit (next/finish) */
	bool conditional;       /* its stops are judged by the condition hook */
	uint64_t hits;
	uint64_t last_value;    /* watchpoints: the value at the last stop */
};

/* Adds a breakpoint or watchpoint; returns its id (> 0) or -errno with err_msg. */
int debug_add(struct vm *vm, enum debug_kind kind, uint64_t addr, unsigned len, bool temporary);
int debug_delete(struct vm *vm, int id);
int debug_enable(struct vm *vm, int id, bool on);
/* Copies out the points, in id order; returns how many there are. */
int debug_list(struct vm *vm, struct debug_point *out, int max);

/* Breakpoint conditions. A breakpoint marked conditional (debug_set_conditional)
 * is judged where the stop happens, whatever ran the VM (vm_run, vm_start and
 * vm_wait, vm_step, the gdb stub, the dashboard): the VM settles, and on the
 * main thread (a host call) the hook is asked; false resumes the VM as if it
 * had not stopped, true makes it a stop. Until then the VM is "running" for
 * vm_state and every wait. The hook may read registers and memory. */
typedef bool (*debug_condition_fn)(struct vm *vm, int id);
void debug_set_condition_hook(debug_condition_fn fn);
int debug_set_conditional(struct vm *vm, int id, bool on);
bool debug_has_condition(struct vm *vm, int id);   /* engine_lock held */
void debug_judge_condition(void *vm);              /* the host call */

/* Runs vCPU 0 for exactly n instructions (other vCPUs stay parked) and waits.
 * interrupts: false holds pending interrupts while stepping (KVM_GUESTDBG_BLOCKIRQ),
 * true lets the CPU take them (stepping into the handler). A breakpoint
 * reached on the way stops it, unless its condition says no. */
int vm_step(struct vm *vm, uint64_t n, bool interrupts, struct vm_stop *out);
struct step_opts {
	int vcpu;               /* the vCPU that steps; the others stay parked */
	bool interrupts;        /* as for vm_step */
	int64_t timeout_ms;     /* give up with a STOP_TIMEOUT after this (< 0: no limit) */
};
/* vm_step with options. A timeout or an interrupt (vm_interrupt_waits,
 * Ctrl-C) ends it with STOP_TIMEOUT or STOP_INTERRUPT; every end leaves the
 * VM paused and says how many instructions ran. A vCPU the guest has not
 * started (waiting for SIPI) cannot step. */
int vm_step_with(struct vm *vm, uint64_t n, const struct step_opts *o, struct vm_stop *out);

/* --- for the engine's own files --- */
/* Frees the VM's debug state. */
void debug_destroy(struct vm *vm);
/* The debugger as a run-loop observer (core/vcpu_observer.h): it applies the
 * guest-debug state on entry, takes debug exits (and planted int3s that a
 * host's emulator failed on), counts an I/O exit while stepping as one
 * instruction, and judges halts (a step that halted with interrupts held
 * stops; a HALTED state where no hlt was run is stale). */
struct vcpu_observer;
extern const struct vcpu_observer debug_observer;
/* Main thread, VM about to run / settled (engine_lock held): plant or lift int3s. */
void debug_plant(struct vm *vm);
void debug_unplant(struct vm *vm);
/* Writes len bytes at gpa (host address host): where a software breakpoint's
 * int3 is planted, the new byte becomes the saved original (restored when
 * the int3 is lifted) and the int3 stays; every other byte is written. */
void debug_mem_write(struct vm *vm, uint64_t gpa, uint8_t *host, const void *buf, size_t len);
/* Hides planted int3 bytes from a copy of guest memory at gpa. */
void debug_mask(struct vm *vm, uint64_t gpa, void *buf, size_t len);

#endif
