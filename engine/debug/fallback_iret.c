/* fallback_iret: a 32-bit protected-mode iret at ring 0, for hosts whose KVM
 * emulates ring 0 (PVM) and whose emulator stops on it. Done as the CPU does
 * it for the two cases a kernel uses: back to its own code (same privilege)
 * and down to ring 3 (ESP and SS popped too, data segments the new level may
 * not use nulled). Anything else (virtual-8086 mode, a nested task, a 16-bit
 * iret, a return to a more privileged level, a descriptor that does not fit)
 * stays an emulation failure for a person to see: never a guess. */
#include <string.h>

#include "engine/debug/fallback.h"
#include "engine/core/vm_internal.h"

#define FL_NT (1u << 14)
#define FL_VM (1u << 17)
/* What an iret at CPL 0 loads: CF PF AF ZF SF TF IF DF OF IOPL NT RF AC ID. */
#define FL_IRET_CPL0 0x247fd5u

int debug_linear_to_phys(struct vcpu *v, uint64_t la, uint64_t *gpa);

static bool read32(struct vcpu *v, uint64_t la, uint32_t *out)
{
	uint64_t gpa;
	la &= 0xffffffffu;
	if ((la & 0xfff) > 0xffc || debug_linear_to_phys(v, la, &gpa) < 0 || gpa + 4 > v->vm->low_size)
		return false;
	memcpy(out, v->vm->mem + gpa, 4);
	return true;
}

/* The descriptor `sel` names, as KVM's segment struct (accessed bit set). */
static bool load_desc(struct vcpu *v, const struct kvm_sregs *sr, uint16_t sel, struct kvm_segment *s)
{
	const struct kvm_dtable *t = &sr->gdt;
	if (sel & 4)
		return false; /* an LDT selector: not needed by the kernels this serves */
	uint32_t lo, hi;
	if ((sel & ~7u) == 0 || (sel | 7u) > t->limit || !read32(v, t->base + (sel & ~7u), &lo) ||
	    !read32(v, t->base + (sel & ~7u) + 4, &hi))
		return false;
	uint32_t limit = (lo & 0xffff) | (hi & 0xf0000);
	*s = (struct kvm_segment){
		.base = (lo >> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000u),
		.limit = (hi >> 23) & 1 ? (limit << 12) | 0xfff : limit,
		.selector = sel, .type = (uint8_t)(((hi >> 8) & 0xf) | 1), .s = (hi >> 12) & 1,
		.dpl = (hi >> 13) & 3, .present = (hi >> 15) & 1, .avl = (hi >> 20) & 1,
		.l = (hi >> 21) & 1, .db = (hi >> 22) & 1, .g = (hi >> 23) & 1,
	};
	return s->present && s->s;
}

/* Code for CS at exactly its RPL (non-conforming), writable data for SS. */
static bool fits(const struct kvm_segment *cs, const struct kvm_segment *ss, int rpl)
{
	return (cs->type & 8) && !(cs->type & 4) && cs->dpl == rpl && !cs->l && cs->db &&
	       (!ss || (!(ss->type & 8) && (ss->type & 2) && ss->dpl == rpl && ss->db));
}

static void null_if_privileged(struct kvm_segment *s, int cpl)
{
	bool conforming_code = (s->type & 8) && (s->type & 4);
	if (s->s && !conforming_code && s->dpl < cpl) {
		s->selector = 0;
		s->present = 0;
		s->unusable = 1;
	}
}

bool fallback_iret32(struct vcpu *v, struct kvm_regs *regs, struct kvm_sregs *sr)
{
	if (!(sr->cr0 & 1) || (sr->efer & (1u << 10)) || !sr->cs.db || !sr->ss.db || sr->cs.dpl != 0 ||
	    (regs->rflags & (FL_NT | FL_VM)))
		return false;
	uint64_t sp = sr->ss.base + (uint32_t)regs->rsp;
	uint32_t eip, cs, fl, esp = 0, ss = 0;
	if (!read32(v, sp, &eip) || !read32(v, sp + 4, &cs) || !read32(v, sp + 8, &fl) || (fl & FL_VM))
		return false;
	int rpl = cs & 3;
	struct kvm_segment ncs = sr->cs, nss = sr->ss;
	if (rpl == 0) {
		if ((uint16_t)cs != sr->cs.selector &&
		    (!load_desc(v, sr, (uint16_t)cs, &ncs) || !fits(&ncs, NULL, 0)))
			return false;
		regs->rsp = (uint32_t)(regs->rsp + 12);
	} else if (rpl == 3) {
		if (!read32(v, sp + 12, &esp) || !read32(v, sp + 16, &ss) || ((ss & 3) != 3) ||
		    !load_desc(v, sr, (uint16_t)cs, &ncs) || !load_desc(v, sr, (uint16_t)ss, &nss) ||
		    !fits(&ncs, &nss, 3))
			return false;
		regs->rsp = esp;
		struct kvm_segment *data[] = { &sr->ds, &sr->es, &sr->fs, &sr->gs };
		for (int i = 0; i < 4; i++)
			null_if_privileged(data[i], 3);
	} else {
		return false;
	}
	if (eip > ncs.limit)
		return false;
	sr->cs = ncs;
	sr->ss = nss;
	regs->rip = eip;
	regs->rflags = (fl & FL_IRET_CPL0) | 2;
	struct kvm_vcpu_events ev;
	if (v->acc->get_events(v->av, &ev) < 0)
		return false;
	ev.nmi.masked = 0; /* iret ends the blocking of NMIs */
	ev.flags = KVM_VCPUEVENT_VALID_SHADOW;
	ev.interrupt.shadow = 0;
	return v->acc->set_sregs(v->av, sr) == 0 && v->acc->set_regs(v->av, regs) == 0 &&
	       v->acc->set_events(v->av, &ev) == 0;
}
