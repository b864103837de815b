/* cpustate: the vCPU state beyond vm_get_regs/vm_get_sregs that a debugger
 * shows and writes: model-specific registers by number, debug registers,
 * the FPU (x87 and SSE), x87/SSE/AVX registers and XCR0. The FPU is read
 * from and written through XSAVE, or KVM_GET_FPU/KVM_SET_FPU when the
 * accelerator has no XSAVE.
 * Every call refuses with -EBUSY while the VM runs, like vm_get_regs. */
#ifndef HVWB_CPUSTATE_H
#define HVWB_CPUSTATE_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

struct vm;

/* 0, or -EINVAL when KVM does not know or refuses the MSR (err_msg says). */
int cpu_get_msr(struct vm *vm, int vcpu, uint32_t index, uint64_t *value);
int cpu_set_msr(struct vm *vm, int vcpu, uint32_t index, uint64_t value);

int cpu_get_debugregs(struct vm *vm, int vcpu, struct kvm_debugregs *dr);
/* Checks DR6/DR7 (bits 63..32 must be 0) before it sets them. */
int cpu_set_debugregs(struct vm *vm, int vcpu, const struct kvm_debugregs *dr);

/* XCR0, the enabled XSAVE features (1 = x87 only when XCRS are missing). */
int cpu_get_xcr0(struct vm *vm, int vcpu, uint64_t *xcr0);

/* The FPU as the guest has it (XSAVE shows unused components in their
 * initial state, KVM_GET_FPU as stored). */
int cpu_get_fpu(struct vm *vm, int vcpu, struct kvm_fpu *fpu);
/* Writes every field of fpu into the XSAVE image's legacy area and marks
 * x87 and SSE in use (XSTATE_BV), so the write takes effect even for a
 * component the guest never used, MXCSR included; KVM_SET_FPU without XSAVE. */
int cpu_set_fpu(struct vm *vm, int vcpu, const struct kvm_fpu *fpu);

struct cpu_vector_state {
	uint16_t fcw, fsw, fop;
	uint8_t ftw;             /* abridged tag: bit i set = ST(i) register valid */
	uint32_t mxcsr;
	uint64_t fip, fdp;
	uint8_t st[8][10];       /* 80-bit x87 registers, little endian */
	uint8_t xmm[16][16];
	uint8_t ymmh[16][16];    /* upper halves of YMM0-15 */
	bool has_ymm;            /* XCR0 enables AVX */
	bool from_xsave;         /* false: KVM_GET_FPU (no YMM) */
	uint64_t xcr0, xstate_bv;
};
int cpu_get_vector_state(struct vm *vm, int vcpu, struct cpu_vector_state *out);

#endif
