/* cpustate: per-vCPU ioctls for the debugger's register views that the core
 * engine does not need: MSRs, debug registers, XCR0 and the x87/SSE/AVX
 * registers. The vector registers are decoded from the standard
 * (non-compacted) XSAVE layout KVM_GET_XSAVE returns: legacy FXSAVE area at
 * 0 (ST0-7 at 32, XMM0-15 at 160), XSAVE header at 512, YMM upper halves at
 * 576. */
#include "engine/core/cpustate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util/err.h"
#include "util/le.h"
#include "engine/core/vm.h"

#define XFEATURE_YMM (1ull << 2)

static int vcpu_ioctl(struct vm *vm, int vcpu, unsigned long req, void *arg, const char *what)
{
	int fd = vm_vcpu_fd(vm, vcpu);
	if (fd < 0)
		return fd;
	if (ioctl(fd, req, arg) < 0)
		return err_set(-errno, "%s on vCPU %d: %s", what, vcpu, strerror(errno));
	return 0;
}

/* struct kvm_msrs ends in a flexible array: one entry is all we need. */
struct one_msr {
	struct kvm_msrs head;
	struct kvm_msr_entry entry;
};

static int msr_ioctl(struct vm *vm, int vcpu, unsigned long req, uint32_t index, uint64_t *value,
		     const char *verb)
{
	int fd = vm_vcpu_fd(vm, vcpu);
	if (fd < 0)
		return fd;
	struct one_msr m;
	memset(&m, 0, sizeof(m));
	m.head.nmsrs = 1;
	m.entry.index = index;
	m.entry.data = *value;
	int n = ioctl(fd, req, &m);
	if (n < 0)
		return err_set(-errno, "%s MSR 0x%x on vCPU %d: %s", verb, index, vcpu, strerror(errno));
	if (n != 1)
		return err_set(-EINVAL, "cannot %s MSR 0x%x on vCPU %d: KVM refuses it%s", verb, index,
			       vcpu, req == KVM_SET_MSRS ? " (unknown MSR or invalid value)" : " (unknown MSR)");
	*value = m.entry.data;
	return 0;
}

int cpu_get_msr(struct vm *vm, int vcpu, uint32_t index, uint64_t *value)
{
	*value = 0;
	return msr_ioctl(vm, vcpu, KVM_GET_MSRS, index, value, "read");
}

int cpu_set_msr(struct vm *vm, int vcpu, uint32_t index, uint64_t value)
{
	return msr_ioctl(vm, vcpu, KVM_SET_MSRS, index, &value, "write");
}

int cpu_get_debugregs(struct vm *vm, int vcpu, struct kvm_debugregs *dr)
{
	memset(dr, 0, sizeof(*dr));
	return vcpu_ioctl(vm, vcpu, KVM_GET_DEBUGREGS, dr, "KVM_GET_DEBUGREGS");
}

int cpu_set_debugregs(struct vm *vm, int vcpu, const struct kvm_debugregs *dr)
{
	if (dr->dr6 >> 32 || dr->dr7 >> 32)
		return err_set(-EINVAL, "DR6 and DR7 are 32-bit registers: bits 63..32 must be 0");
	struct kvm_debugregs copy = *dr;
	copy.flags = 0;
	return vcpu_ioctl(vm, vcpu, KVM_SET_DEBUGREGS, &copy, "KVM_SET_DEBUGREGS");
}

int cpu_get_xcr0(struct vm *vm, int vcpu, uint64_t *xcr0)
{
	struct kvm_xcrs x;
	memset(&x, 0, sizeof(x));
	int r = vcpu_ioctl(vm, vcpu, KVM_GET_XCRS, &x, "KVM_GET_XCRS");
	if (r < 0)
		return r;
	*xcr0 = 1;
	for (unsigned i = 0; i < x.nr_xcrs && i < KVM_MAX_XCRS; i++)
		if (x.xcrs[i].xcr == 0)
			*xcr0 = x.xcrs[i].value;
	return 0;
}


static void decode_xsave(const uint8_t *a, struct cpu_vector_state *out)
{
	out->fcw = le_get16(a);
	out->fsw = le_get16(a + 2);
	out->ftw = a[4];
	out->fop = le_get16(a + 6);
	out->fip = le_get64(a + 8);
	out->fdp = le_get64(a + 16);
	out->mxcsr = le_get32(a + 24);
	for (int i = 0; i < 8; i++)
		memcpy(out->st[i], a + 32 + 16 * i, 10);
	for (int i = 0; i < 16; i++)
		memcpy(out->xmm[i], a + 160 + 16 * i, 16);
	out->xstate_bv = le_get64(a + 512);
	/* A component whose XSTATE_BV bit is clear is in its initial state: zero. */
	if (out->xstate_bv & XFEATURE_YMM)
		for (int i = 0; i < 16; i++)
			memcpy(out->ymmh[i], a + 576 + 16 * i, 16);
	out->from_xsave = true;
}

static int vector_from_fpu(struct vm *vm, int vcpu, struct cpu_vector_state *out)
{
	struct kvm_fpu f;
	int r = vcpu_ioctl(vm, vcpu, KVM_GET_FPU, &f, "KVM_GET_FPU");
	if (r < 0)
		return r;
	out->fcw = f.fcw;
	out->fsw = f.fsw;
	out->ftw = f.ftwx;
	out->fop = f.last_opcode;
	out->fip = f.last_ip;
	out->fdp = f.last_dp;
	out->mxcsr = f.mxcsr;
	for (int i = 0; i < 8; i++)
		memcpy(out->st[i], f.fpr[i], 10);
	memcpy(out->xmm, f.xmm, sizeof(out->xmm));
	return 0;
}

int cpu_get_vector_state(struct vm *vm, int vcpu, struct cpu_vector_state *out)
{
	memset(out, 0, sizeof(*out));
	int fd = vm_vcpu_fd(vm, vcpu);
	if (fd < 0)
		return fd;
	if (cpu_get_xcr0(vm, vcpu, &out->xcr0) < 0)
		out->xcr0 = 1;
	out->has_ymm = out->xcr0 & XFEATURE_YMM;
	struct kvm_xsave *xs = calloc(1, sizeof(*xs));
	if (!xs)
		return err_set(-ENOMEM, "out of memory");
	int r = ioctl(fd, KVM_GET_XSAVE, xs) < 0 ? -errno : 0;
	if (r == 0)
		decode_xsave((const uint8_t *)xs->region, out);
	free(xs);
	if (r < 0) {
		out->has_ymm = false;
		return vector_from_fpu(vm, vcpu, out);
	}
	return 0;
}
