/* soft_state: moving the soft vCPU's state in and out in KVM's structs:
 * kvm_regs, kvm_sregs (segments with their hidden parts), kvm_fpu and the
 * standard-format XSAVE area (legacy FXSAVE image, header at 512), XCRs,
 * MSRs, events, mp_state, LAPIC (the irqchip's), debug registers, guest
 * debug and the CPUID table. Called while the vCPU does not run. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/accel/soft/soft_cpu.h"
#include "engine/accel/soft/soft_state.h"

int soft_get_regs(struct accel_vcpu *c, struct kvm_regs *r)
{
	uint64_t *g = c->r;
	r->rax = g[0]; r->rcx = g[1]; r->rdx = g[2]; r->rbx = g[3];
	r->rsp = g[4]; r->rbp = g[5]; r->rsi = g[6]; r->rdi = g[7];
	r->r8 = g[8]; r->r9 = g[9]; r->r10 = g[10]; r->r11 = g[11];
	r->r12 = g[12]; r->r13 = g[13]; r->r14 = g[14]; r->r15 = g[15];
	r->rip = c->rip;
	r->rflags = soft_get_flags(c);
	return 0;
}

int soft_set_regs(struct accel_vcpu *c, const struct kvm_regs *r)
{
	uint64_t *g = c->r;
	g[0] = r->rax; g[1] = r->rcx; g[2] = r->rdx; g[3] = r->rbx;
	g[4] = r->rsp; g[5] = r->rbp; g[6] = r->rsi; g[7] = r->rdi;
	g[8] = r->r8; g[9] = r->r9; g[10] = r->r10; g[11] = r->r11;
	g[12] = r->r12; g[13] = r->r13; g[14] = r->r14; g[15] = r->r15;
	c->rip = r->rip;
	uint64_t old = soft_get_flags(c);
	soft_set_flags(c, r->rflags);
	if ((r->rflags & ~old) & F_IF)
		atomic_store(&c->work, 1);
	soft_update_mode(c);
	return 0;
}

int soft_get_sregs(struct accel_vcpu *c, struct kvm_sregs *s)
{
	memset(s, 0, sizeof(*s));
	s->es = c->seg[S_ES]; s->cs = c->seg[S_CS]; s->ss = c->seg[S_SS];
	s->ds = c->seg[S_DS]; s->fs = c->seg[S_FS]; s->gs = c->seg[S_GS];
	s->tr = c->tr;
	s->ldt = c->ldt;
	s->gdt = c->gdt;
	s->idt = c->idt;
	s->cr0 = c->cr0; s->cr2 = c->cr2; s->cr3 = c->cr3; s->cr4 = c->cr4;
	s->cr8 = irqchip_get_cr8(c->vm->chip, c->index);
	s->efer = c->efer;
	s->apic_base = irqchip_get_apic_base(c->vm->chip, c->index);
	if (c->irq_injected >= 0)
		s->interrupt_bitmap[c->irq_injected / 64] |= 1ull << (c->irq_injected % 64);
	return 0;
}

/* What KVM_SET_SREGS refuses (kvm_is_valid_sregs): control-register bits
 * above 31, paging without protection, NW without CD, and a long mode that
 * the other bits contradict. A state no CPU can be in must not load. */
static bool sregs_valid(const struct kvm_sregs *s)
{
	const uint64_t pe = 1, pg = 1ull << 31, nw = 1ull << 29, cd = 1ull << 30;
	const uint64_t pae = 1ull << 5, lme = 1ull << 8, lma = 1ull << 10;
	if ((s->cr0 >> 32) || (s->cr4 >> 32) || ((s->cr0 & pg) && !(s->cr0 & pe)) ||
	    ((s->cr0 & nw) && !(s->cr0 & cd)))
		return false;
	if ((s->efer & lme) && (s->cr0 & pg))
		return (s->cr4 & pae) && (s->efer & lma);
	return !(s->efer & lma);
}

int soft_set_sregs(struct accel_vcpu *c, const struct kvm_sregs *s)
{
	if (!sregs_valid(s))
		return -EINVAL;
	c->seg[S_ES] = s->es; c->seg[S_CS] = s->cs; c->seg[S_SS] = s->ss;
	c->seg[S_DS] = s->ds; c->seg[S_FS] = s->fs; c->seg[S_GS] = s->gs;
	c->tr = s->tr;
	c->ldt = s->ldt;
	c->gdt = s->gdt;
	c->idt = s->idt;
	c->cr0 = s->cr0 | CR0_ET;
	c->cr2 = s->cr2;
	c->cr3 = s->cr3;
	c->cr4 = s->cr4;
	c->efer = s->efer;
	irqchip_set_cr8(c->vm->chip, c->index, s->cr8);
	irqchip_set_apic_base_host(c->vm->chip, c->index, s->apic_base);
	c->irq_injected = -1;
	for (int k = 0; k < 256; k++)
		if (s->interrupt_bitmap[k / 64] & (1ull << (k % 64))) {
			c->irq_injected = k;
			atomic_store(&c->work, 1);
			break;
		}
	soft_update_mode(c);
	soft_tlb_flush(c, false);
	return 0;
}

int soft_get_fpu(struct accel_vcpu *c, struct kvm_fpu *f)
{
	memset(f, 0, sizeof(*f));
	memcpy(f->fpr, c->fx + 32, 128);
	memcpy(&f->fcw, c->fx + 0, 2);
	memcpy(&f->fsw, c->fx + 2, 2);
	f->ftwx = c->fx[4];
	memcpy(&f->last_opcode, c->fx + 6, 2);
	memcpy(&f->last_ip, c->fx + 8, 8);
	memcpy(&f->last_dp, c->fx + 16, 8);
	memcpy(f->xmm, c->fx + 160, 256);
	memcpy(&f->mxcsr, c->fx + 24, 4);
	return 0;
}

/* MXCSR bits 31..16 are reserved: the soft CPU loads the guest's MXCSR
 * into the host's to run SSE arithmetic, where they would fault hvwb
 * itself. Refused, as KVM refuses them (and as fxrstor and ldmxcsr raise
 * #GP for them in the guest). */
#define MXCSR_RESERVED 0xffff0000u

int soft_set_fpu(struct accel_vcpu *c, const struct kvm_fpu *f)
{
	if (f->mxcsr & MXCSR_RESERVED)
		return -EINVAL;
	memcpy(c->fx + 32, f->fpr, 128);
	memcpy(c->fx + 0, &f->fcw, 2);
	memcpy(c->fx + 2, &f->fsw, 2);
	c->fx[4] = f->ftwx;
	memcpy(c->fx + 6, &f->last_opcode, 2);
	memcpy(c->fx + 8, &f->last_ip, 8);
	memcpy(c->fx + 16, &f->last_dp, 8);
	memcpy(c->fx + 160, f->xmm, 256);
	memcpy(c->fx + 24, &f->mxcsr, 4);
	return 0;
}

int soft_get_xsave(struct accel_vcpu *c, struct kvm_xsave *x)
{
	memset(x, 0, sizeof(*x));
	uint8_t *p = (uint8_t *)x->region;
	memcpy(p, c->fx, 512);
	uint32_t mxcsr_mask = 0xffff;
	memcpy(p + 28, &mxcsr_mask, 4);
	uint64_t bv = 3;
	memcpy(p + 512, &bv, 8);
	return 0;
}

int soft_set_xsave(struct accel_vcpu *c, const struct kvm_xsave *x)
{
	const uint8_t *p = (const uint8_t *)x->region;
	uint64_t bv;
	uint32_t mxcsr;
	memcpy(&bv, p + 512, 8);
	memcpy(&mxcsr, p + 24, 4);
	if (mxcsr & MXCSR_RESERVED)
		return -EINVAL;
	/* As XRSTOR: a component whose XSTATE_BV bit is clear is loaded in
	 * its initial state (FCW 0x37f, the rest zero), whatever the image holds. */
	if (bv & 1) {
		memcpy(c->fx, p, 24);
		memcpy(c->fx + 32, p + 32, 128);
	} else {
		memset(c->fx, 0, 24);
		c->fx[0] = 0x7f;
		c->fx[1] = 0x03;
		memset(c->fx + 32, 0, 128);
	}
	memcpy(c->fx + 24, p + 24, 4);
	if (bv & 2)
		memcpy(c->fx + 160, p + 160, 256);
	else
		memset(c->fx + 160, 0, 256);
	return 0;
}

int soft_get_xcrs(struct accel_vcpu *c, struct kvm_xcrs *x)
{
	memset(x, 0, sizeof(*x));
	x->nr_xcrs = 1;
	x->xcrs[0].xcr = 0;
	x->xcrs[0].value = c->xcr0;
	return 0;
}

int soft_set_xcrs(struct accel_vcpu *c, const struct kvm_xcrs *x)
{
	for (uint32_t k = 0; k < x->nr_xcrs && k < KVM_MAX_XCRS; k++) {
		if (x->xcrs[k].xcr != 0)
			return -EINVAL;
		if (!(x->xcrs[k].value & 1) || (x->xcrs[k].value & ~3ull))
			return -EINVAL;
		c->xcr0 = x->xcrs[k].value;
	}
	return 0;
}

int soft_get_msrs(struct accel_vcpu *c, struct kvm_msrs *m)
{
	uint32_t k;
	for (k = 0; k < m->nmsrs; k++)
		if (!soft_rdmsr(c, m->entries[k].index, (uint64_t *)&m->entries[k].data))
			break;
	return k;
}

int soft_set_msrs(struct accel_vcpu *c, const struct kvm_msrs *m)
{
	uint32_t k;
	for (k = 0; k < m->nmsrs; k++) {
		uint32_t idx = m->entries[k].index;
		uint64_t v = m->entries[k].data;
		if (idx == 0x1b) { /* a restore, not the guest's WRMSR */
			if (!irqchip_set_apic_base_host(c->vm->chip, c->index, v))
				break;
			continue;
		}
		if (idx == 0xc0000080) { /* the VMM may set LMA itself */
			c->efer = v;
			soft_update_mode(c);
			soft_tlb_flush(c, false);
			continue;
		}
		if (!soft_wrmsr(c, idx, v))
			break;
	}
	return k;
}

int soft_get_events(struct accel_vcpu *c, struct kvm_vcpu_events *e)
{
	memset(e, 0, sizeof(*e));
	e->exception.injected = c->exc_pending;
	e->exception.nr = c->exc_vec;
	e->exception.has_error_code = c->exc_has_err;
	e->exception.error_code = c->exc_err;
	e->interrupt.injected = c->irq_injected >= 0;
	e->interrupt.nr = c->irq_injected >= 0 ? c->irq_injected : 0;
	e->interrupt.shadow = c->shadow ? KVM_X86_SHADOW_INT_STI : 0;
	e->nmi.pending = c->nmi_pending;
	e->nmi.masked = c->nmi_masked;
	e->flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW;
	return 0;
}

int soft_set_events(struct accel_vcpu *c, const struct kvm_vcpu_events *e)
{
	c->exc_pending = e->exception.injected || e->exception.pending;
	c->exc_vec = e->exception.nr;
	c->exc_has_err = e->exception.has_error_code;
	c->exc_err = e->exception.error_code;
	c->irq_injected = e->interrupt.injected ? e->interrupt.nr : -1;
	if (e->flags & KVM_VCPUEVENT_VALID_SHADOW)
		c->shadow = e->interrupt.shadow ? 1 : 0;
	if (e->flags & KVM_VCPUEVENT_VALID_NMI_PENDING)
		c->nmi_pending = e->nmi.pending;
	c->nmi_pending |= e->nmi.injected;
	c->nmi_masked = e->nmi.masked;
	atomic_store(&c->work, 1);
	return 0;
}

int soft_get_mp_state(struct accel_vcpu *c, struct kvm_mp_state *mp)
{
	mp->mp_state = c->mp_state;
	return 0;
}

int soft_set_mp_state(struct accel_vcpu *c, const struct kvm_mp_state *mp)
{
	switch (mp->mp_state) {
	case KVM_MP_STATE_RUNNABLE: case KVM_MP_STATE_HALTED: case KVM_MP_STATE_UNINITIALIZED:
	case KVM_MP_STATE_INIT_RECEIVED: case KVM_MP_STATE_SIPI_RECEIVED:
		c->mp_state = mp->mp_state == KVM_MP_STATE_SIPI_RECEIVED ? KVM_MP_STATE_RUNNABLE
									 : (int)mp->mp_state;
		atomic_store(&c->work, 1);
		return 0;
	}
	return -EINVAL;
}

int soft_get_lapic(struct accel_vcpu *c, struct kvm_lapic_state *l)
{
	return irqchip_get_lapic(c->vm->chip, c->index, l);
}

int soft_set_lapic(struct accel_vcpu *c, const struct kvm_lapic_state *l)
{
	return irqchip_set_lapic(c->vm->chip, c->index, l);
}

int soft_get_debugregs(struct accel_vcpu *c, struct kvm_debugregs *d)
{
	memset(d, 0, sizeof(*d));
	memcpy(d->db, c->dr, sizeof(d->db));
	d->dr6 = c->dr6;
	d->dr7 = c->dr7;
	return 0;
}

static void rearm_watch(struct accel_vcpu *c)
{
	uint64_t dr7 = (c->dbg_control & KVM_GUESTDBG_USE_HW_BP) ? c->dbg_reg[7] : c->dr7;
	bool any = false;
	for (int n = 0; n < 4; n++)
		if (((dr7 >> (2 * n)) & 3) && ((dr7 >> (16 + 4 * n)) & 3))
			any = true;
	c->watch = any;
}

int soft_set_debugregs(struct accel_vcpu *c, const struct kvm_debugregs *d)
{
	memcpy(c->dr, d->db, sizeof(c->dr));
	c->dr6 = d->dr6 | 0xffff0ff0u;
	c->dr7 = d->dr7 | 0x400;
	rearm_watch(c);
	return 0;
}

int soft_set_guest_debug(struct accel_vcpu *c, const struct kvm_guest_debug *g)
{
	c->dbg_control = (g->control & KVM_GUESTDBG_ENABLE) ? g->control : 0;
	memcpy(c->dbg_reg, g->arch.debugreg, sizeof(c->dbg_reg));
	c->bp_skip = false;
	rearm_watch(c);
	atomic_store(&c->work, 1);
	return 0;
}

int soft_set_cpuid(struct accel_vcpu *c, const struct kvm_cpuid2 *cpuid)
{
	/* As KVM since Linux 5.16: once the vCPU ran, only the same table. */
	if (c->insn_count && (cpuid->nent != (uint32_t)c->ncpuid ||
			      memcmp(cpuid->entries, c->cpuid, c->ncpuid * sizeof(*c->cpuid))))
		return -EINVAL;
	struct kvm_cpuid_entry2 *t = calloc(cpuid->nent ? cpuid->nent : 1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	memcpy(t, cpuid->entries, cpuid->nent * sizeof(*t));
	free(c->cpuid);
	c->cpuid = t;
	c->ncpuid = cpuid->nent;
	return 0;
}

int soft_get_cpuid(struct accel_vcpu *c, struct kvm_cpuid2 *cpuid)
{
	if (cpuid->nent < (uint32_t)c->ncpuid) {
		cpuid->nent = c->ncpuid;
		return -E2BIG;
	}
	cpuid->nent = c->ncpuid;
	if (c->ncpuid)
		memcpy(cpuid->entries, c->cpuid, c->ncpuid * sizeof(*c->cpuid));
	return 0;
}
