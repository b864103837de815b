/* cpustate: per-vCPU ioctls for the debugger's register views that the core
 * engine does not need: MSRs, debug registers, XCR0 and the x87/SSE/AVX
 * registers. The vector registers are decoded from, and the FPU written
 * into, the standard (non-compacted) XSAVE layout KVM_GET_XSAVE returns:
 * legacy FXSAVE area at 0 (FCW 0, FSW 2, abridged FTW 4, FOP 6, FIP 8,
 * FDP 16, MXCSR 24, MXCSR_MASK 28, ST0-7 at 32, XMM0-15 at 160), XSAVE
 * header at 512 (XSTATE_BV first), YMM upper halves at 576. */
#include "engine/core/cpustate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/le.h"
#include "engine/core/vm_internal.h"

#define XFEATURE_X87 (1ull << 0)
#define XFEATURE_SSE (1ull << 1)
#define XFEATURE_YMM (1ull << 2)

/* struct kvm_msrs ends in a flexible array: one entry is all we need. */
struct one_msr {
	struct kvm_msrs head;
	struct kvm_msr_entry entry;
};

static int msr_access(struct vm *vm, int vcpu, bool write, uint32_t index, uint64_t *value)
{
	struct vcpu *v = vm_stopped_vcpu(vm, vcpu);
	if (!v)
		return -EBUSY;
	struct one_msr m;
	memset(&m, 0, sizeof(m));
	m.head.nmsrs = 1;
	m.entry.index = index;
	m.entry.data = *value;
	const char *verb = write ? "write" : "read";
	int n = write ? v->acc->set_msrs(v->av, &m.head) : v->acc->get_msrs(v->av, &m.head);
	if (n < 0)
		return err_set(n, "%s MSR 0x%x on vCPU %d: %s", verb, index, vcpu, strerror(-n));
	if (n != 1)
		return err_set(-EINVAL, "cannot %s MSR 0x%x on vCPU %d: the %s accelerator refuses it%s",
			       verb, index, vcpu, v->acc->name,
			       write ? " (unknown MSR or invalid value)" : " (unknown MSR)");
	*value = m.entry.data;
	return 0;
}

int cpu_get_msr(struct vm *vm, int vcpu, uint32_t index, uint64_t *value)
{
	*value = 0;
	return msr_access(vm, vcpu, false, index, value);
}

int cpu_set_msr(struct vm *vm, int vcpu, uint32_t index, uint64_t value)
{
	return msr_access(vm, vcpu, true, index, &value);
}

int cpu_get_debugregs(struct vm *vm, int vcpu, struct kvm_debugregs *dr)
{
	memset(dr, 0, sizeof(*dr));
	struct vcpu *v = vm_stopped_vcpu(vm, vcpu);
	return v ? vcpu_result(v, v->acc->get_debugregs(v->av, dr), "reading the debug registers") : -EBUSY;
}

int cpu_set_debugregs(struct vm *vm, int vcpu, const struct kvm_debugregs *dr)
{
	if (dr->dr6 >> 32 || dr->dr7 >> 32)
		return err_set(-EINVAL, "DR6 and DR7 are 32-bit registers: bits 63..32 must be 0");
	struct kvm_debugregs copy = *dr;
	copy.flags = 0;
	struct vcpu *v = vm_stopped_vcpu(vm, vcpu);
	return v ? vcpu_result(v, v->acc->set_debugregs(v->av, &copy), "setting the debug registers") : -EBUSY;
}

int cpu_get_xcr0(struct vm *vm, int vcpu, uint64_t *xcr0)
{
	struct kvm_xcrs x;
	memset(&x, 0, sizeof(x));
	struct vcpu *v = vm_stopped_vcpu(vm, vcpu);
	int r = v ? vcpu_result(v, v->acc->get_xcrs(v->av, &x), "reading XCR0") : -EBUSY;
	if (r < 0)
		return r;
	*xcr0 = 1;
	for (unsigned i = 0; i < x.nr_xcrs && i < KVM_MAX_XCRS; i++)
		if (x.xcrs[i].xcr == 0)
			*xcr0 = x.xcrs[i].value;
	return 0;
}

/* The legacy (FXSAVE) area of an XSAVE image, at its start. */
static void decode_fpu(const uint8_t *a, struct kvm_fpu *f)
{
	memset(f, 0, sizeof(*f));
	f->fcw = le_get16(a);
	f->fsw = le_get16(a + 2);
	f->ftwx = a[4];
	f->last_opcode = le_get16(a + 6);
	f->last_ip = le_get64(a + 8);
	f->last_dp = le_get64(a + 16);
	f->mxcsr = le_get32(a + 24);
	for (int i = 0; i < 8; i++)
		memcpy(f->fpr[i], a + 32 + 16 * i, 10);
	for (int i = 0; i < 16; i++)
		memcpy(f->xmm[i], a + 160 + 16 * i, 16);
}

static void vector_from_fpu(const struct kvm_fpu *f, struct cpu_vector_state *out)
{
	out->fcw = f->fcw;
	out->fsw = f->fsw;
	out->ftw = f->ftwx;
	out->fop = f->last_opcode;
	out->fip = f->last_ip;
	out->fdp = f->last_dp;
	out->mxcsr = f->mxcsr;
	for (int i = 0; i < 8; i++)
		memcpy(out->st[i], f->fpr[i], 10);
	memcpy(out->xmm, f->xmm, sizeof(out->xmm));
}

static void decode_xsave(const uint8_t *a, struct cpu_vector_state *out)
{
	struct kvm_fpu f;
	decode_fpu(a, &f);
	vector_from_fpu(&f, out);
	out->xstate_bv = le_get64(a + 512);
	/* A component whose XSTATE_BV bit is clear is in its initial state: zero. */
	if (out->xstate_bv & XFEATURE_YMM)
		for (int i = 0; i < 16; i++)
			memcpy(out->ymmh[i], a + 576 + 16 * i, 16);
	out->from_xsave = true;
}


/* Writes the kvm_fpu fields into the legacy area of XSAVE image a; the
 * MXCSR mask at 28 and the reserved bytes after each ST register stay. */
static void encode_fpu(const struct kvm_fpu *f, uint8_t *a)
{
	le_put16(a, f->fcw);
	le_put16(a + 2, f->fsw);
	a[4] = f->ftwx;
	le_put16(a + 6, f->last_opcode);
	le_put64(a + 8, f->last_ip);
	le_put64(a + 16, f->last_dp);
	le_put32(a + 24, f->mxcsr);
	for (int i = 0; i < 8; i++)
		memcpy(a + 32 + 16 * i, f->fpr[i], 10);
	for (int i = 0; i < 16; i++)
		memcpy(a + 160 + 16 * i, f->xmm[i], 16);
	/* A clear bit would make XRSTOR load the component's initial state
	 * instead of what was just written: x87 and SSE are now in use. */
	le_put64(a + 512, le_get64(a + 512) | XFEATURE_X87 | XFEATURE_SSE);
}

/* The accelerator's XSAVE image of the vCPU in *out, to free(), or NULL
 * when it has none (the caller falls back to the FPU calls); -ENOMEM only
 * when there is no memory for the image. */
static int read_xsave(struct vcpu *v, struct kvm_xsave **out)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return err_set(-ENOMEM, "out of memory");
	if (v->acc->get_xsave(v->av, *out) < 0) {
		free(*out);
		*out = NULL;
	}
	return 0;
}

/* KVM_GET_FPU shows the FXSAVE image as stored, but KVM_GET_XSAVE shows a
 * component whose XSTATE_BV bit is clear in its initial state, which is
 * what the guest gets when it runs (and on some hosts MXCSR differs
 * between the two): so where XSAVE works it is the truth. */
int cpu_get_fpu(struct vm *vm, int vcpu, struct kvm_fpu *f)
{
	memset(f, 0, sizeof(*f));
	struct vcpu *v = vm_stopped_vcpu(vm, vcpu);
	if (!v)
		return -EBUSY;
	struct kvm_xsave *xs;
	int r = read_xsave(v, &xs);
	if (r < 0)
		return r;
	if (!xs)
		return vcpu_result(v, v->acc->get_fpu(v->av, f), "reading the FPU registers");
	decode_fpu((const uint8_t *)xs->region, f);
	free(xs);
	return 0;
}

/* Through XSAVE where the accelerator has it: KVM_SET_FPU writes the
 * FXSAVE image but not XSTATE_BV (a component the guest never used stays
 * in its initial state and the write is lost) and leaves MXCSR out. */
int cpu_set_fpu(struct vm *vm, int vcpu, const struct kvm_fpu *f)
{
	struct vcpu *v = vm_stopped_vcpu(vm, vcpu);
	if (!v)
		return -EBUSY;
	struct kvm_xsave *xs;
	int r = read_xsave(v, &xs);
	if (r < 0)
		return r;
	if (!xs)
		return vcpu_result(v, v->acc->set_fpu(v->av, f), "setting the FPU registers");
	encode_fpu(f, (uint8_t *)xs->region);
	r = vcpu_result(v, v->acc->set_xsave(v->av, xs), "setting the FPU registers (XSAVE)");
	free(xs);
	return r;
}

int cpu_get_vector_state(struct vm *vm, int vcpu, struct cpu_vector_state *out)
{
	memset(out, 0, sizeof(*out));
	struct vcpu *v = vm_stopped_vcpu(vm, vcpu);
	if (!v)
		return -EBUSY;
	if (cpu_get_xcr0(vm, vcpu, &out->xcr0) < 0)
		out->xcr0 = 1;
	out->has_ymm = out->xcr0 & XFEATURE_YMM;
	struct kvm_xsave *xs;
	int r = read_xsave(v, &xs);
	if (r < 0)
		return r;
	if (xs) {
		decode_xsave((const uint8_t *)xs->region, out);
		free(xs);
		return 0;
	}
	out->has_ymm = false;
	struct kvm_fpu f;
	r = vcpu_result(v, v->acc->get_fpu(v->av, &f), "reading the FPU registers");
	if (r == 0)
		vector_from_fpu(&f, out);
	return r;
}
