/* vm_internal: the structures behind struct vm, shared by the engine's own
 * files (vm.c, vm_run.c, vcpu.c, kvm.c) and by no one else. */
#ifndef HVWB_VM_INTERNAL_H
#define HVWB_VM_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "engine/accel/accel.h"
#include "engine/core/vm.h"

struct uart;

/* A file (memfd) holding an image of guest RAM. A VM maps its base shared
 * while it owns it alone and nothing has been frozen, or private
 * (copy-on-write) once snapshots or clones share it: then nobody writes the
 * file again, except freeze's in-place update when the VM is its only user.
 * Reference counts are touched by the main thread only. */
struct membase {
	int fd;
	uint64_t size;
	int refs;
};

struct vcpu {
	struct vm *vm;
	int index;
	const struct accel_ops *acc;  /* the VM's accelerator, copied for short calls */
	struct accel_vcpu *av;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
	/* The fields below are guarded by engine_lock. */
	bool parked;       /* out of KVM_RUN, waiting for the VM to run */
	bool idle;         /* halted with interrupts off, or an AP waiting for SIPI */
	/* Owned by the vCPU thread. */
	bool pending_io;   /* the last exit was I/O or MMIO, not yet completed */
	timer_t idle_timer;
	bool has_timer, timer_on;
	int stats_fd;
	struct vcpu_stats stats;
	bool dbg_skipping;  /* stepping off a breakpoint at RIP before running on */
	uint64_t dbg_skip_at; /* the breakpoint's linear address while dbg_skipping */
	struct kvm_guest_debug dbg_applied; /* what KVM_SET_GUEST_DEBUG last set */
	/* The last idle check that looked halted: RIP and exit count then. */
	bool idle_seen;
	uint64_t idle_rip, idle_exits;
};

struct vm {
	char name[64];
	const struct accel_ops *accel;
	struct accel_vm *avm;
	struct membase *base;  /* the file behind guest RAM */
	bool mem_private;      /* mapped copy-on-write over base (see struct membase) */
	uint8_t *mem;          /* host mapping of all guest RAM */
	uint64_t mem_size;
	uint64_t low_size;     /* RAM below the 32-bit PCI hole, at guest-physical 0 */
	int nvcpus;
	struct vcpu *vcpus;
	struct bus *bus;
	struct uart *uart;
	struct device_host host;
	struct symtab *syms;
	struct debug_state *dbg;
	bool solo;             /* only vcpus[solo_vcpu] runs (single-stepping) */
	int solo_vcpu;
	bool inline_run;       /* vcpus[solo_vcpu] runs on the caller's thread (vm_step) */
	int stats_fd;
	cpuid_hidden_t cpuid_hidden; /* features hidden from every vCPU (vm_cpuid.c) */
	/* Guarded by engine_lock. */
	enum vm_state state;
	int pause_req;         /* also read without the lock by vCPU threads */
	bool quit;
	struct vm_stop stop;
	uint64_t run_started_ns, run_ns, created_ns;
	uint64_t stop_count;   /* how many times the VM has settled from running */
	int cond_pending;      /* a conditional breakpoint's id whose condition the main
				  thread is judging: settled, but still "running" outside */
	struct vm *next;       /* the list of all VMs */
};

/* One lock for every VM's state and one condition for every change of it:
 * state changes are rare (start, stop, park), so this costs nothing on the
 * exit path, and a waiter can watch several VMs and the host-call queue. */
extern pthread_mutex_t engine_lock;
extern pthread_cond_t engine_cond;
/* Parked vCPU threads wait here, apart from engine_cond, so that the many
 * state changes they do not care about (every stop) do not wake them. */
extern pthread_cond_t park_cond;

/* Waits (engine_lock held) until done(arg) or the deadline (0: none), serving
 * host calls meanwhile. Returns 0, -ETIMEDOUT or -EINTR (vm_interrupt_waits). */
int engine_wait_until(bool (*done)(void *arg), void *arg, uint64_t deadline_ns);

/* vcpu_cpuid.c: gives a vCPU the CPUID table of its accelerator, with its own
 * APIC id and without the features hidden from the VM. */
int vcpu_set_cpuid(struct vcpu *v, cpuid_hidden_t hidden);

/* vcpu.c */
int vcpu_init(struct vm *vm, int index);
int vcpu_start_thread(struct vcpu *vcpu);
void vcpu_fini(struct vcpu *vcpu);
/* A stop record of this vCPU: kind, index and RIP filled, the rest zero. */
void vcpu_stop_init(struct vcpu *v, struct vm_stop *s, enum stop_kind kind);
/* Runs vCPU v on the calling thread until a stop is requested; every vCPU
 * thread stays parked (vm_start_inline was called). */
void vcpu_run_inline(struct vcpu *v);
/* Makes a vCPU leave KVM_RUN soon (engine_lock held). */
void vcpu_kick(struct vcpu *vcpu);

/* vm_cpu.c: the vCPU to touch, or NULL with a message if the index is bad or
 * the VM runs; and a vCPU call's result with a message naming what failed. */
struct vcpu *vm_stopped_vcpu(struct vm *vm, int index);
int vcpu_result(const struct vcpu *v, int r, const char *what);

/* vm.c: tells the accelerator that the engine wrote guest RAM while a vCPU
 * may be inside its run call (vm_mem_write does). Writes made between runs
 * (loads, planted int3s, restores) need no call: an accelerator that caches
 * decoded code checks it against RAM on the first use in each run. */
void vm_ram_written(struct vm *vm, uint64_t gpa, uint64_t len);

/* vm.c: guest RAM bases (snapshot.c and clone.c build on these). */
struct membase *membase_new(uint64_t size, const char *name);
struct membase *membase_get(struct membase *b);
void membase_put(struct membase *b);
/* Maps base over the VM's RAM at the same address, shared or copy-on-write,
 * and re-registers the memory slots. On failure the old mapping stays. */
int vm_mem_remap(struct vm *vm, struct membase *base, bool shared);

/* vm_cpu.c: sets up vCPU 0 for a loaded program (boot_prepare) and makes the
 * VM `created` again; `what` names the program in messages. */
int vm_boot(struct vm *vm, const struct boot_plan *plan, const char *what);

/* hostcall.c: true once for each vm_interrupt_waits() not yet taken. */
bool engine_take_interrupt(void);
/* vm_run.c: like vm_start, but wakes no vCPU thread: the caller runs vCPU 0
 * itself with vcpu_run_inline, then vm_end_inline. */
int vm_start_inline(struct vm *vm);
void vm_end_inline(struct vm *vm);
/* vm_run.c: called by a vCPU thread (engine_lock held) when its guest must stop. */
void vm_request_stop(struct vm *vm, const struct vm_stop *stop);
/* Called when a vCPU parks or a stop is requested (engine_lock held): once a
 * stop is requested and every vCPU is parked, the VM settles into its state. */
void vm_settle_if_parked(struct vm *vm);

#endif
