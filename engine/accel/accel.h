/* accel: the one seam between the engine and a CPU. Two accelerators sit
 * behind it: `kvm` (ioctls on /dev/kvm) and `soft` (hvwb's own x86 CPU with
 * its PIC, PIT, LAPIC and IOAPIC in user space). Both speak KVM's vocabulary:
 * the state structs of <linux/kvm.h> and a `struct kvm_run` filled with KVM's
 * exit reasons, so nothing above this header knows which one runs. Every
 * function returns 0 (or a count where KVM returns one) or a negative errno;
 * the seam never prints, and only `usable` leaves a message (why not):
 * callers say what failed.
 * The engine calls through a table, never an `if (soft)`. */
#ifndef HVWB_ACCEL_H
#define HVWB_ACCEL_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct accel_vm;    /* one VM of one accelerator */
struct accel_vcpu;  /* one vCPU of it */

struct accel_ops {
	const char *name;                 /* "kvm" or "soft" */
	/* 0 when this accelerator can make VMs here, else a negative errno
	 * with the reason in util/err's message. NULL: it runs anywhere. */
	int (*usable)(void);

	/* VM level. create also makes the interrupt controllers (PIC pair,
	 * IOAPIC, PIT, one LAPIC per vCPU) and the TSS/identity pages a real
	 * mode guest needs under VT-x; destroy frees it all. */
	int (*vm_create)(struct accel_vm **out);
	void (*vm_destroy)(struct accel_vm *vm);
	/* A RAM slot: [gpa, gpa + size) is host memory at hva. size 0 deletes it.
	 * flags: KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY. */
	int (*set_memory)(struct accel_vm *vm, uint32_t slot, uint32_t flags, uint64_t gpa,
			  uint64_t size, void *hva);
	/* The VMM wrote guest RAM [gpa, gpa + len) through its own pointer
	 * while vCPUs may be running (a device's or a script's write): an
	 * accelerator that caches decoded guest code drops what it cached
	 * there. Writes between runs it must notice by itself. NULL: it caches
	 * nothing (KVM's CPU runs guest code from RAM as it is). */
	void (*ram_written)(struct accel_vm *vm, uint64_t gpa, uint64_t len);
	/* Pages of a slot written since the last call, one bit a page (KVM_GET_DIRTY_LOG). */
	int (*get_dirty_log)(struct accel_vm *vm, uint32_t slot, void *bitmap);
	int (*irq_line)(struct accel_vm *vm, uint32_t gsi, int level);
	int (*get_irqchip)(struct accel_vm *vm, struct kvm_irqchip *chip);
	int (*set_irqchip)(struct accel_vm *vm, const struct kvm_irqchip *chip);
	int (*get_pit)(struct accel_vm *vm, struct kvm_pit_state2 *pit);
	int (*set_pit)(struct accel_vm *vm, const struct kvm_pit_state2 *pit);
	int (*get_clock)(struct accel_vm *vm, struct kvm_clock_data *clock);
	int (*set_clock)(struct accel_vm *vm, const struct kvm_clock_data *clock);
	/* KVM's binary statistics fd of the VM, or -ENOTSUP. */
	int (*vm_stats_fd)(struct accel_vm *vm);

	/* vCPU level. create returns the vCPU and its kvm_run (valid until
	 * destroy). run enters the guest until the next exit KVM would give
	 * and fills *run; -EINTR when kicked or run->immediate_exit was set.
	 * kick may be called from any thread and makes a running `run` return
	 * soon (a signal to the thread for kvm, a flag for soft). */
	int (*vcpu_create)(struct accel_vm *vm, int index, struct accel_vcpu **out,
			   struct kvm_run **run);
	void (*vcpu_destroy)(struct accel_vcpu *v);
	int (*vcpu_run)(struct accel_vcpu *v);
	void (*vcpu_kick)(struct accel_vcpu *v);
	/* A signal reached the thread inside vcpu_run: make that run return
	 * -EINTR, as KVM_RUN does when a signal is pending. Async-signal-safe.
	 * NULL where the signal does it by itself (kvm). */
	void (*vcpu_interrupted)(struct accel_vcpu *v);
	int (*get_regs)(struct accel_vcpu *v, struct kvm_regs *regs);
	int (*set_regs)(struct accel_vcpu *v, const struct kvm_regs *regs);
	int (*get_sregs)(struct accel_vcpu *v, struct kvm_sregs *sregs);
	int (*set_sregs)(struct accel_vcpu *v, const struct kvm_sregs *sregs);
	int (*get_fpu)(struct accel_vcpu *v, struct kvm_fpu *fpu);
	int (*set_fpu)(struct accel_vcpu *v, const struct kvm_fpu *fpu);
	int (*get_xsave)(struct accel_vcpu *v, struct kvm_xsave *xsave);
	int (*set_xsave)(struct accel_vcpu *v, const struct kvm_xsave *xsave);
	int (*get_xcrs)(struct accel_vcpu *v, struct kvm_xcrs *xcrs);
	int (*set_xcrs)(struct accel_vcpu *v, const struct kvm_xcrs *xcrs);
	/* Like KVM_GET/SET_MSRS: returns how many entries were done, in order. */
	int (*get_msrs)(struct accel_vcpu *v, struct kvm_msrs *msrs);
	int (*set_msrs)(struct accel_vcpu *v, const struct kvm_msrs *msrs);
	int (*get_events)(struct accel_vcpu *v, struct kvm_vcpu_events *ev);
	int (*set_events)(struct accel_vcpu *v, const struct kvm_vcpu_events *ev);
	int (*get_mp_state)(struct accel_vcpu *v, struct kvm_mp_state *mp);
	int (*set_mp_state)(struct accel_vcpu *v, const struct kvm_mp_state *mp);
	int (*get_lapic)(struct accel_vcpu *v, struct kvm_lapic_state *lapic);
	int (*set_lapic)(struct accel_vcpu *v, const struct kvm_lapic_state *lapic);
	int (*get_debugregs)(struct accel_vcpu *v, struct kvm_debugregs *dr);
	int (*set_debugregs)(struct accel_vcpu *v, const struct kvm_debugregs *dr);
	int (*set_guest_debug)(struct accel_vcpu *v, const struct kvm_guest_debug *dbg);
	/* The vCPU's CPUID table: set replaces it, get copies it (E2BIG if
	 * cpuid->nent is too small, with nent set to what is needed). */
	int (*set_cpuid)(struct accel_vcpu *v, const struct kvm_cpuid2 *cpuid);
	int (*get_cpuid)(struct accel_vcpu *v, struct kvm_cpuid2 *cpuid);
	int (*vcpu_stats_fd)(struct accel_vcpu *v);
	/* Instructions the vCPU retired since it was created, exactly; NULL
	 * where the accelerator cannot count them (kvm). */
	uint64_t (*insn_count)(struct accel_vcpu *v);

	/* Accelerator level: what a new vCPU's CPUID may show (before the
	 * VMM's own filter), the MSRs worth saving, capabilities (KVM_CAP_*). */
	int (*supported_cpuid)(struct kvm_cpuid2 *cpuid);
	int (*msr_index_list)(struct kvm_msr_list *list);
	int (*check_cap)(long cap);
};

extern const struct accel_ops accel_kvm;
extern const struct accel_ops accel_soft;

/* The accelerator called `name`, or for NULL and "auto" the first usable one
 * (kvm, then soft). A negative errno with a message if it is unknown or not
 * usable here. */
int accel_pick(const char *name, const struct accel_ops **out);
/* 0 when `a` can make VMs here, else a negative errno with the reason. */
int accel_usable(const struct accel_ops *a);
/* The accelerators this build has, NULL-terminated, fastest first. */
extern const struct accel_ops *const accel_all[];

#endif
