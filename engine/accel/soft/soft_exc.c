/* soft_exc: delivery of exceptions and interrupts through the guest's
 * interrupt table in every mode: the real-mode IVT, 16/32-bit protected-mode
 * interrupt and trap gates (with the TSS stack switch to an inner ring) and
 * 64-bit gates (IST, 16-byte stack alignment, SS:RSP always pushed). The
 * frame is built and written before any register changes, so a fault while
 * delivering leaves the state of the faulting instruction for the double
 * fault logic in soft_run.c. */
#include "engine/accel/soft/soft_cpu.h"

void soft_tss_stack(struct accel_vcpu *c, int dpl, int ist, uint16_t *ss, uint64_t *sp);
void soft_load_inner_ss(struct accel_vcpu *c, uint16_t ss, int cpl, struct kvm_segment *out);

static void deliver_real(struct accel_vcpu *c, int vec, uint64_t ret_rip)
{
	uint64_t at = c->idt.base + vec * 4;
	if ((uint64_t)vec * 4 + 3 > c->idt.limit)
		soft_gp(c, vec * 8 + 2);
	uint32_t ent = soft_lin_read_sys(c, at, 4);
	uint64_t fl = soft_get_flags(c);
	soft_push(c, 2, fl);
	soft_push(c, 2, c->seg[S_CS].selector);
	soft_push(c, 2, ret_rip);
	soft_load_seg_real(c, S_CS, ent >> 16);
	c->rip = ent & 0xffff;
	soft_set_flags(c, fl & ~(uint64_t)(F_IF | F_TF | F_AC | F_RF));
}

struct frame {
	uint64_t v[6];
	int n;
};

static void frame_write(struct accel_vcpu *c, const struct frame *f, uint64_t base, uint64_t sp,
			uint64_t mask, int size, bool user)
{
	for (int k = 0; k < f->n; k++) {
		sp = (sp - size) & mask;
		if (user)
			soft_lin_write(c, base + sp, size, f->v[k]);
		else
			soft_lin_write_sys(c, base + sp, size, f->v[k]);
	}
}

static void read_target(struct accel_vcpu *c, uint16_t sel, int ext, struct kvm_segment *cs,
			uint64_t *d)
{
	bool ok;
	*d = soft_read_desc(c, sel, EXC_GP, &ok);
	if (!ok)
		soft_gp(c, ext);
	soft_desc_to_seg(*d, 0, sel, cs);
	if (!cs->s || !(cs->type & 8) || cs->dpl > c->cpl)
		soft_gp(c, (sel & 0xfffc) | ext);
	if (!cs->present)
		soft_raise(c, EXC_NP, true, (sel & 0xfffc) | ext);
}

static void deliver_prot(struct accel_vcpu *c, int vec, int kind, bool has_err, uint32_t err,
			 uint64_t ret_rip)
{
	bool lm = c->efer & EFER_LMA;
	int ext = (kind == INT_HW || kind == INT_EXC) ? 1 : 0;
	uint32_t gerr = vec * 8 + 2 + ext;
	int gsize = lm ? 16 : 8;
	if ((uint64_t)vec * gsize + gsize - 1 > c->idt.limit)
		soft_gp(c, gerr);
	uint64_t lo = soft_lin_read_sys(c, c->idt.base + vec * gsize, 8);
	uint64_t hi = lm ? soft_lin_read_sys(c, c->idt.base + vec * gsize + 8, 8) : 0;
	int type = (lo >> 40) & 15, gdpl = (lo >> 45) & 3;
	if (type == 5 && !lm)
		soft_emul_fail(c); /* task gate */
	bool ok_type = lm ? (type == 0xe || type == 0xf) : (type == 6 || type == 7 || type == 0xe || type == 0xf);
	if (!ok_type)
		soft_gp(c, gerr);
	if (kind == INT_SOFT && gdpl < c->cpl)
		soft_gp(c, vec * 8 + 2);
	if (!((lo >> 47) & 1))
		soft_raise(c, EXC_NP, true, gerr);
	if (c->rflags & F_VM)
		soft_emul_fail(c);
	uint16_t sel = (lo >> 16) & 0xffff;
	uint64_t off = (lo & 0xffff) | ((lo >> 32) & 0xffff0000u) | (hi << 32);
	struct kvm_segment cs, ss = c->seg[S_SS];
	uint64_t d;
	read_target(c, sel, ext, &cs, &d);
	int ncpl = (cs.type & 4) ? c->cpl : cs.dpl;
	int ist = lm ? (lo >> 32) & 7 : 0;
	int size = lm ? 8 : (type & 8) ? 4 : 2;
	if (lm && (!cs.l || cs.db))
		soft_gp(c, (sel & 0xfffc) | ext);
	uint64_t fl = soft_get_flags(c);
	/* a fault's frame has RF set, so iret does not re-trigger an instruction
	 * breakpoint on the instruction it restarts */
	if (kind == INT_EXC && ((1u << vec) & 0xb7ce1u) && vec < 20)
		fl |= F_RF;
	struct frame f = { .n = 0 };
	uint64_t sp = c->r[R_SP], base, mask;
	bool inner = ncpl < c->cpl;
	if (inner || (lm && ist)) {
		uint16_t nss;
		uint64_t nsp;
		soft_tss_stack(c, ncpl, ist, &nss, &nsp);
		if (lm) {
			if (inner) {
				soft_null_seg(&ss, ncpl);
				ss.dpl = ncpl;
			}
		} else {
			soft_load_inner_ss(c, nss, ncpl, &ss);
		}
		sp = nsp;
	}
	if (inner || lm) { /* 64-bit mode pushes SS:RSP even without a ring change */
		f.v[f.n++] = c->seg[S_SS].selector;
		f.v[f.n++] = c->r[R_SP];
	}
	if (lm) {
		sp &= ~0xfull;
		base = 0;
		mask = ~0ull;
	} else {
		base = ss.base;
		mask = ss.db ? 0xffffffffull : 0xffff;
	}
	f.v[f.n++] = fl;
	f.v[f.n++] = c->seg[S_CS].selector;
	f.v[f.n++] = ret_rip;
	if (has_err)
		f.v[f.n++] = err;
	if (!lm && off > cs.limit)
		soft_gp(c, ext);
	frame_write(c, &f, base, sp, mask, size, ncpl == 3);
	/* commit */
	sp = (sp - f.n * size) & mask;
	if (inner || (lm && ist))
		c->seg[S_SS] = ss;
	if (lm)
		c->r[R_SP] = sp;
	else if (ss.db)
		c->r[R_SP] = (uint32_t)sp;
	else
		c->r[R_SP] = (c->r[R_SP] & ~0xffffull) | sp;
	c->cpl = ncpl;
	cs.selector = (sel & ~3) | ncpl;
	cs.type |= 1;
	c->seg[S_CS] = cs;
	soft_update_mode(c);
	c->rip = lm ? off : (size == 2 ? off & 0xffff : (uint32_t)off);
	uint64_t clear = F_TF | F_NT | F_RF | F_VM | ((type & 1) ? 0 : F_IF);
	soft_set_flags(c, fl & ~clear);
	(void)d;
}

/* Delivers vector `vec`. kind: INT_EXC (a fault or trap of the CPU),
 * INT_SOFT (int n, int3, into: gate DPL checked), INT_HW (an external
 * interrupt or NMI), INT_ICEBP (int1). ret_rip: what the frame returns to. */
void soft_deliver(struct accel_vcpu *c, int vec, int kind, bool has_err, uint32_t err,
		  uint64_t ret_rip)
{
	c->in_delivery = kind == INT_EXC ? vec : 0x100 | vec;
	if (!(c->cr0 & CR0_PE))
		deliver_real(c, vec, ret_rip);
	else
		deliver_prot(c, vec, kind, has_err, err, ret_rip);
	c->in_delivery = -1;
}
