/* kvm: the accelerator that is Linux KVM. Each operation of the seam is the
 * ioctl of the same name on /dev/kvm, the VM fd or the vCPU fd; a VM gets the
 * in-kernel irqchip and PIT, and on Intel the TSS pages real mode needs. */
#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/accel/accel.h"
#include "engine/accel/kvm_host.h"

/* Just below the LAPIC and IOAPIC pages, where no RAM or device goes. */
#define TSS_ADDR 0xfffbd000ul

struct accel_vm {
	int fd;
};

/* The registers of a stopped vCPU are read many times between two runs (the
 * stop's location, its symbol and instruction, the debugger's views), and on
 * a host without VT-x every ioctl costs microseconds. So the last values read
 * are kept until anything could change them: a run, or a set of state that
 * holds them. Only the thread that owns the vCPU at the moment touches this. */
struct reg_cache {
	bool regs_ok, sregs_ok, dr_ok;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_debugregs dr;
};

struct accel_vcpu {
	int fd;
	struct kvm_run *run;
	size_t run_size;
	struct reg_cache c;
};

static int xioctl(int fd, unsigned long req, const void *arg)
{
	int r = ioctl(fd, req, arg);
	return r < 0 ? -errno : r;
}

static int kvm_vm_create(struct accel_vm **out)
{
	int dev = kvm_host_fd();
	if (dev < 0)
		return dev;
	struct accel_vm *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->fd = ioctl(dev, KVM_CREATE_VM, 0);
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	int r = vm->fd < 0 ? -errno : 0;
	if (r == 0)
		r = xioctl(vm->fd, KVM_SET_TSS_ADDR, (void *)TSS_ADDR);
	if (r == 0)
		r = xioctl(vm->fd, KVM_CREATE_IRQCHIP, NULL);
	if (r == 0)
		r = xioctl(vm->fd, KVM_CREATE_PIT2, &pit);
	if (r < 0) {
		if (vm->fd >= 0)
			close(vm->fd);
		free(vm);
		return r;
	}
	*out = vm;
	return 0;
}

static void kvm_vm_destroy(struct accel_vm *vm)
{
	if (!vm)
		return;
	close(vm->fd);
	free(vm);
}

static int kvm_set_memory(struct accel_vm *vm, uint32_t slot, uint32_t flags, uint64_t gpa,
			  uint64_t size, void *hva)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot, .flags = flags, .guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)hva,
	};
	return xioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &r);
}

static int kvm_get_dirty_log(struct accel_vm *vm, uint32_t slot, void *bitmap)
{
	struct kvm_dirty_log d = { .slot = slot, .dirty_bitmap = bitmap };
	return xioctl(vm->fd, KVM_GET_DIRTY_LOG, &d);
}

static int kvm_irq_line(struct accel_vm *vm, uint32_t gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = (uint32_t)level };
	return xioctl(vm->fd, KVM_IRQ_LINE, &irq);
}

static int kvm_get_irqchip(struct accel_vm *vm, struct kvm_irqchip *c) { return xioctl(vm->fd, KVM_GET_IRQCHIP, c); }
static int kvm_set_irqchip(struct accel_vm *vm, const struct kvm_irqchip *c) { return xioctl(vm->fd, KVM_SET_IRQCHIP, c); }
static int kvm_get_pit(struct accel_vm *vm, struct kvm_pit_state2 *p) { return xioctl(vm->fd, KVM_GET_PIT2, p); }
static int kvm_set_pit(struct accel_vm *vm, const struct kvm_pit_state2 *p) { return xioctl(vm->fd, KVM_SET_PIT2, p); }
static int kvm_get_clock(struct accel_vm *vm, struct kvm_clock_data *c) { return xioctl(vm->fd, KVM_GET_CLOCK, c); }
static int kvm_set_clock(struct accel_vm *vm, const struct kvm_clock_data *c) { return xioctl(vm->fd, KVM_SET_CLOCK, c); }

static int kvm_vm_stats_fd(struct accel_vm *vm)
{
	if (kvm_host_check_cap(KVM_CAP_BINARY_STATS_FD) <= 0)
		return -ENOTSUP;
	return xioctl(vm->fd, KVM_GET_STATS_FD, NULL);
}

static int kvm_vcpu_create(struct accel_vm *vm, int index, struct accel_vcpu **out,
			   struct kvm_run **run)
{
	int size = ioctl(kvm_host_fd(), KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < 0)
		return -errno;
	struct accel_vcpu *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->fd = ioctl(vm->fd, KVM_CREATE_VCPU, index);
	if (v->fd < 0) {
		int e = errno;
		free(v);
		return -e;
	}
	v->run_size = (size_t)size;
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		int e = errno;
		close(v->fd);
		free(v);
		return -e;
	}
	*out = v;
	*run = v->run;
	return 0;
}

static void kvm_vcpu_destroy(struct accel_vcpu *v)
{
	if (!v)
		return;
	munmap(v->run, v->run_size);
	close(v->fd);
	free(v);
}

static void forget(struct accel_vcpu *v)
{
	v->c.regs_ok = v->c.sregs_ok = v->c.dr_ok = false;
}

static int kvm_vcpu_run(struct accel_vcpu *v)
{
	forget(v);
	return xioctl(v->fd, KVM_RUN, NULL);
}

/* The signal the engine sends with it is what brings KVM_RUN back; this makes
 * sure a KVM_RUN entered after the signal returns at once too. */
static void kvm_vcpu_kick(struct accel_vcpu *v) { v->run->immediate_exit = 1; }

static int kvm_get_regs(struct accel_vcpu *v, struct kvm_regs *r)
{
	if (!v->c.regs_ok) {
		int e = xioctl(v->fd, KVM_GET_REGS, &v->c.regs);
		if (e < 0)
			return e;
		v->c.regs_ok = true;
	}
	*r = v->c.regs;
	return 0;
}

static int kvm_get_sregs(struct accel_vcpu *v, struct kvm_sregs *s)
{
	if (!v->c.sregs_ok) {
		int e = xioctl(v->fd, KVM_GET_SREGS, &v->c.sregs);
		if (e < 0)
			return e;
		v->c.sregs_ok = true;
	}
	*s = v->c.sregs;
	return 0;
}

/* A set may be refused or adjusted by KVM: read it back when next asked. */
static int kvm_set_regs(struct accel_vcpu *v, const struct kvm_regs *r)
{
	forget(v);
	return xioctl(v->fd, KVM_SET_REGS, r);
}

static int kvm_set_sregs(struct accel_vcpu *v, const struct kvm_sregs *s)
{
	forget(v);
	return xioctl(v->fd, KVM_SET_SREGS, s);
}
static int kvm_get_fpu(struct accel_vcpu *v, struct kvm_fpu *f) { return xioctl(v->fd, KVM_GET_FPU, f); }
static int kvm_set_fpu(struct accel_vcpu *v, const struct kvm_fpu *f)
{
	forget(v);
	return xioctl(v->fd, KVM_SET_FPU, f);
}
static int kvm_get_xcrs(struct accel_vcpu *v, struct kvm_xcrs *x) { return xioctl(v->fd, KVM_GET_XCRS, x); }
static int kvm_set_xcrs(struct accel_vcpu *v, const struct kvm_xcrs *x)
{
	forget(v);
	return xioctl(v->fd, KVM_SET_XCRS, x);
}
static int kvm_get_msrs(struct accel_vcpu *v, struct kvm_msrs *m) { return xioctl(v->fd, KVM_GET_MSRS, m); }
static int kvm_set_msrs(struct accel_vcpu *v, const struct kvm_msrs *m)
{
	forget(v); /* EFER, FS/GS base and the APIC base are in sregs too */
	return xioctl(v->fd, KVM_SET_MSRS, m);
}
static int kvm_get_events(struct accel_vcpu *v, struct kvm_vcpu_events *e) { return xioctl(v->fd, KVM_GET_VCPU_EVENTS, e); }
static int kvm_set_events(struct accel_vcpu *v, const struct kvm_vcpu_events *e)
{
	forget(v); /* the interrupt shadow and pending injections touch sregs' bitmap */
	return xioctl(v->fd, KVM_SET_VCPU_EVENTS, e);
}
static int kvm_get_mp_state(struct accel_vcpu *v, struct kvm_mp_state *m) { return xioctl(v->fd, KVM_GET_MP_STATE, m); }
static int kvm_set_mp_state(struct accel_vcpu *v, const struct kvm_mp_state *m)
{
	forget(v); /* INIT and SIPI states reset registers */
	return xioctl(v->fd, KVM_SET_MP_STATE, m);
}
static int kvm_get_lapic(struct accel_vcpu *v, struct kvm_lapic_state *l) { return xioctl(v->fd, KVM_GET_LAPIC, l); }
static int kvm_set_lapic(struct accel_vcpu *v, const struct kvm_lapic_state *l)
{
	forget(v); /* CR8 (the TPR) is in sregs */
	return xioctl(v->fd, KVM_SET_LAPIC, l);
}
static int kvm_get_debugregs(struct accel_vcpu *v, struct kvm_debugregs *d)
{
	if (!v->c.dr_ok) {
		int e = xioctl(v->fd, KVM_GET_DEBUGREGS, &v->c.dr);
		if (e < 0)
			return e;
		v->c.dr_ok = true;
	}
	*d = v->c.dr;
	return 0;
}

static int kvm_set_debugregs(struct accel_vcpu *v, const struct kvm_debugregs *d)
{
	forget(v);
	return xioctl(v->fd, KVM_SET_DEBUGREGS, d);
}

/* KVM shows the single-step flag it sets and the debug registers it loads. */
static int kvm_set_guest_debug(struct accel_vcpu *v, const struct kvm_guest_debug *g)
{
	forget(v);
	return xioctl(v->fd, KVM_SET_GUEST_DEBUG, g);
}
static int kvm_set_cpuid(struct accel_vcpu *v, const struct kvm_cpuid2 *c)
{
	forget(v);
	return xioctl(v->fd, KVM_SET_CPUID2, c);
}
static int kvm_get_cpuid(struct accel_vcpu *v, struct kvm_cpuid2 *c) { return xioctl(v->fd, KVM_GET_CPUID2, c); }

/* KVM_GET_XSAVE, not _XSAVE2: the caller's buffer is one struct kvm_xsave
 * (4 KiB), and _XSAVE2 writes KVM_CAP_XSAVE2 bytes, more on a host with AMX.
 * hvwb never grants a guest AMX, so the first 4 KiB hold all of its state. */
static int kvm_get_xsave(struct accel_vcpu *v, struct kvm_xsave *x)
{
	return xioctl(v->fd, KVM_GET_XSAVE, x);
}

static int kvm_set_xsave(struct accel_vcpu *v, const struct kvm_xsave *x)
{
	forget(v);
	return xioctl(v->fd, KVM_SET_XSAVE, x);
}

static int kvm_vcpu_stats_fd(struct accel_vcpu *v)
{
	if (kvm_host_check_cap(KVM_CAP_BINARY_STATS_FD) <= 0)
		return -ENOTSUP;
	return xioctl(v->fd, KVM_GET_STATS_FD, NULL);
}

static int kvm_supported_cpuid(struct kvm_cpuid2 *c)
{
	int dev = kvm_host_fd();
	return dev < 0 ? dev : xioctl(dev, KVM_GET_SUPPORTED_CPUID, c);
}

static int kvm_msr_index_list(struct kvm_msr_list *l)
{
	int dev = kvm_host_fd();
	return dev < 0 ? dev : xioctl(dev, KVM_GET_MSR_INDEX_LIST, l);
}

static int kvm_usable(void)
{
	int fd = kvm_host_fd();
	return fd < 0 ? fd : 0;
}

const struct accel_ops accel_kvm = {
	.name = "kvm", .usable = kvm_usable,
	.vm_create = kvm_vm_create, .vm_destroy = kvm_vm_destroy,
	.set_memory = kvm_set_memory, .get_dirty_log = kvm_get_dirty_log,
	.irq_line = kvm_irq_line,
	.get_irqchip = kvm_get_irqchip, .set_irqchip = kvm_set_irqchip,
	.get_pit = kvm_get_pit, .set_pit = kvm_set_pit,
	.get_clock = kvm_get_clock, .set_clock = kvm_set_clock,
	.vm_stats_fd = kvm_vm_stats_fd,
	.vcpu_create = kvm_vcpu_create, .vcpu_destroy = kvm_vcpu_destroy,
	.vcpu_run = kvm_vcpu_run, .vcpu_kick = kvm_vcpu_kick,
	.get_regs = kvm_get_regs, .set_regs = kvm_set_regs,
	.get_sregs = kvm_get_sregs, .set_sregs = kvm_set_sregs,
	.get_fpu = kvm_get_fpu, .set_fpu = kvm_set_fpu,
	.get_xsave = kvm_get_xsave, .set_xsave = kvm_set_xsave,
	.get_xcrs = kvm_get_xcrs, .set_xcrs = kvm_set_xcrs,
	.get_msrs = kvm_get_msrs, .set_msrs = kvm_set_msrs,
	.get_events = kvm_get_events, .set_events = kvm_set_events,
	.get_mp_state = kvm_get_mp_state, .set_mp_state = kvm_set_mp_state,
	.get_lapic = kvm_get_lapic, .set_lapic = kvm_set_lapic,
	.get_debugregs = kvm_get_debugregs, .set_debugregs = kvm_set_debugregs,
	.set_guest_debug = kvm_set_guest_debug,
	.set_cpuid = kvm_set_cpuid, .get_cpuid = kvm_get_cpuid,
	.vcpu_stats_fd = kvm_vcpu_stats_fd,
	.supported_cpuid = kvm_supported_cpuid, .msr_index_list = kvm_msr_index_list,
	.check_cap = kvm_host_check_cap,
};
