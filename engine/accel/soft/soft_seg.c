/* soft_seg: protected-mode segmentation. Descriptor fetches from the GDT/LDT
 * with their #GP/#NP/#SS/#TS error codes, segment register loads with the
 * privilege rules, far jmp/call (direct and through call gates, with the
 * TSS stack switch to an inner ring), far ret and iret within and across
 * rings (data segments the outer ring may not see become null). Task
 * switches are not implemented (emulation failure). */
#include "engine/accel/soft/soft_cpu.h"

void soft_null_seg(struct kvm_segment *s, uint16_t sel)
{
	s->selector = sel;
	s->unusable = 1;
	s->present = 0;
	s->type = 0;
	s->s = 0;
	s->dpl = sel & 3;
}

void soft_desc_to_seg(uint64_t d, uint64_t d_hi, uint16_t sel, struct kvm_segment *s)
{
	s->selector = sel;
	s->base = ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000u);
	s->limit = (d & 0xffff) | ((d >> 32) & 0xf0000);
	s->type = (d >> 40) & 15;
	s->s = (d >> 44) & 1;
	s->dpl = (d >> 45) & 3;
	s->present = (d >> 47) & 1;
	s->avl = (d >> 52) & 1;
	s->l = (d >> 53) & 1;
	s->db = (d >> 54) & 1;
	s->g = (d >> 55) & 1;
	s->unusable = 0;
	s->padding = 0;
	if (s->g)
		s->limit = (s->limit << 12) | 0xfff;
	if (!s->s)
		s->base |= (d_hi & 0xffffffffull) << 32;
}

/* The 8-byte descriptor `sel` names; faults `vec`(sel) if outside its table.
 * `*ok` false (and no fault) if sel is null. */
static uint64_t desc_addr(struct accel_vcpu *c, uint16_t sel, int vec)
{
	uint64_t base, limit;
	if (sel & 4) {
		if (c->ldt.unusable || !c->ldt.present)
			soft_raise(c, vec, true, sel & 0xfffc);
		base = c->ldt.base;
		limit = c->ldt.limit;
	} else {
		base = c->gdt.base;
		limit = c->gdt.limit;
	}
	if ((uint64_t)(sel & ~7u) + 7 > limit)
		soft_raise(c, vec, true, sel & 0xfffc);
	return base + (sel & ~7u);
}

uint64_t soft_read_desc(struct accel_vcpu *c, uint16_t sel, int vec, bool *ok)
{
	*ok = (sel & 0xfffc) != 0;
	if (!*ok)
		return 0;
	return soft_lin_read_sys(c, desc_addr(c, sel, vec), 8);
}

void soft_set_desc_busy_or_accessed(struct accel_vcpu *c, uint16_t sel, uint8_t bit)
{
	uint64_t a = desc_addr(c, sel, EXC_GP) + 5;
	uint8_t b = soft_lin_read_sys(c, a, 1);
	if (!(b & bit))
		soft_lin_write_sys(c, a, 1, b | bit);
}

void soft_load_seg_real(struct accel_vcpu *c, int seg, uint16_t sel)
{
	struct kvm_segment *s = &c->seg[seg];
	s->selector = sel;
	s->base = (uint64_t)sel << 4;
	if (c->rflags & F_VM) {
		s->limit = 0xffff;
		s->dpl = 3;
		s->present = 1;
		s->s = 1;
		s->unusable = 0;
		s->type = seg == S_CS ? 0xb : 3;
	}
}

void soft_load_seg(struct accel_vcpu *c, int seg, uint16_t sel)
{
	if (!(c->cr0 & CR0_PE) || (c->rflags & F_VM)) {
		soft_load_seg_real(c, seg, sel);
		return;
	}
	bool ok;
	uint64_t d = soft_read_desc(c, sel, EXC_GP, &ok);
	struct kvm_segment n;
	int rpl = sel & 3, cpl = c->cpl;
	if (!ok) {
		if (seg == S_SS && !(c->mode64 && cpl != 3 && rpl == cpl))
			soft_gp(c, 0);
		soft_null_seg(&n, sel);
		if (c->mode64 && seg >= S_FS)
			n.base = c->seg[seg].base;
		c->seg[seg] = n;
		return;
	}
	soft_desc_to_seg(d, 0, sel, &n);
	uint32_t err = sel & 0xfffc;
	if (seg == S_SS) {
		if (rpl != cpl || n.dpl != cpl || !n.s || (n.type & 8) || !(n.type & 2))
			soft_gp(c, err);
		if (!n.present)
			soft_raise(c, EXC_SS, true, err);
	} else {
		if (!n.s || ((n.type & 8) && !(n.type & 2)))
			soft_gp(c, err);
		if ((!(n.type & 8) || !(n.type & 4)) && (rpl > n.dpl || cpl > n.dpl))
			soft_gp(c, err);
		if (!n.present)
			soft_raise(c, EXC_NP, true, err);
	}
	if (!(n.type & 1)) {
		soft_set_desc_busy_or_accessed(c, sel, 1);
		n.type |= 1;
	}
	c->seg[seg] = n;
	if (seg == S_SS)
		soft_update_mode(c);
}

/* A code segment for CS after the checks of its caller, with RPL = cpl. */
static void set_cs(struct accel_vcpu *c, uint64_t d, uint16_t sel, int cpl)
{
	struct kvm_segment n;
	soft_desc_to_seg(d, 0, (sel & ~3) | cpl, &n);
	n.type |= 1;
	c->seg[S_CS] = n;
	c->cpl = cpl;
	soft_update_mode(c);
}

static void check_target(struct accel_vcpu *c, const struct kvm_segment *s, uint64_t off)
{
	bool m64 = (c->efer & EFER_LMA) && s->l;
	if (m64 ? (uint64_t)((int64_t)(off << 16) >> 16) != off : off > s->limit)
		soft_gp(c, 0);
}

/* Inner stack for privilege level `dpl` from the TSS (ist > 0: that IST). */
void soft_tss_stack(struct accel_vcpu *c, int dpl, int ist, uint16_t *ss, uint64_t *sp)
{
	uint64_t base = c->tr.base;
	if (c->efer & EFER_LMA) {
		uint64_t at = ist ? 0x24 + 8 * (ist - 1) : 4 + 8 * dpl;
		if (at + 7 > c->tr.limit)
			soft_raise(c, EXC_TS, true, c->tr.selector & 0xfffc);
		*sp = soft_lin_read_sys(c, base + at, 8);
		*ss = dpl;
		return;
	}
	bool t32 = c->tr.type & 8;
	uint64_t at = t32 ? 4 + 8 * dpl : 2 + 4 * dpl;
	if (at + (t32 ? 7 : 3) > c->tr.limit)
		soft_raise(c, EXC_TS, true, c->tr.selector & 0xfffc);
	*sp = soft_lin_read_sys(c, base + at, t32 ? 4 : 2);
	*ss = soft_lin_read_sys(c, base + at + (t32 ? 4 : 2), 2);
}

/* Loads SS for a ring change to `cpl` (checks with #TS as the TSS source). */
void soft_load_inner_ss(struct accel_vcpu *c, uint16_t ss, int cpl, struct kvm_segment *out)
{
	bool ok;
	if (!(ss & 0xfffc) && (c->efer & EFER_LMA)) {
		soft_null_seg(out, ss);
		out->dpl = cpl;
		out->unusable = 1;
		return;
	}
	uint64_t d = soft_read_desc(c, ss, EXC_TS, &ok);
	if (!ok)
		soft_raise(c, EXC_TS, true, 0);
	soft_desc_to_seg(d, 0, ss, out);
	if ((ss & 3) != cpl || out->dpl != cpl || !out->s || (out->type & 8) || !(out->type & 2))
		soft_raise(c, EXC_TS, true, ss & 0xfffc);
	if (!out->present)
		soft_raise(c, EXC_SS, true, ss & 0xfffc);
}

static void call_gate(struct accel_vcpu *c, uint64_t gd, uint16_t gsel, bool call, int osz,
		      uint64_t ret_rip)
{
	bool lm = c->efer & EFER_LMA;
	int gdpl = (gd >> 45) & 3, cpl = c->cpl;
	if (gdpl < cpl || gdpl < (gsel & 3))
		soft_gp(c, gsel & 0xfffc);
	if (!((gd >> 47) & 1))
		soft_raise(c, EXC_NP, true, gsel & 0xfffc);
	uint16_t sel = (gd >> 16) & 0xffff;
	uint64_t off = (gd & 0xffff) | ((gd >> 32) & 0xffff0000u);
	int gsz = ((gd >> 40) & 8) ? 4 : 2;
	if (lm) {
		off |= soft_lin_read_sys(c, desc_addr(c, gsel, EXC_GP) + 8, 4) << 32;
		gsz = 8;
	}
	bool ok;
	uint64_t d = soft_read_desc(c, sel, EXC_GP, &ok);
	if (!ok)
		soft_gp(c, 0);
	struct kvm_segment cs;
	soft_desc_to_seg(d, 0, sel, &cs);
	if (!cs.s || !(cs.type & 8) || cs.dpl > cpl)
		soft_gp(c, sel & 0xfffc);
	if (!cs.present)
		soft_raise(c, EXC_NP, true, sel & 0xfffc);
	(void)osz; /* the gate's size decides, not the instruction's */
	if (!call || (cs.type & 4) || cs.dpl == cpl) {
		int ncpl = (cs.type & 4) ? cpl : cs.dpl;
		if (!call && !(cs.type & 4) && cs.dpl != cpl)
			soft_gp(c, sel & 0xfffc);
		check_target(c, &cs, off);
		if (call) {
			soft_push(c, gsz, c->seg[S_CS].selector);
			soft_push(c, gsz, ret_rip);
		}
		set_cs(c, d, sel, ncpl);
		c->rip = off;
		return;
	}
	/* call to an inner ring: new stack from the TSS, copy the parameters */
	int ncpl = cs.dpl;
	uint16_t nss;
	uint64_t nsp;
	soft_tss_stack(c, ncpl, 0, &nss, &nsp);
	struct kvm_segment ss;
	soft_load_inner_ss(c, nss, ncpl, &ss);
	unsigned params = lm ? 0 : (gd >> 32) & 31;
	uint64_t osp = c->r[R_SP], ossel = c->seg[S_SS].selector;
	uint64_t pv[32];
	for (unsigned k = 0; k < params; k++)
		pv[k] = soft_read(c, S_SS, (osp + k * gsz) & soft_mask(c->seg[S_SS].db ? 4 : 2), gsz);
	check_target(c, &cs, off);
	uint64_t sp = lm ? nsp : nsp & soft_mask(ss.db ? 4 : 2);
	uint64_t base = lm ? 0 : ss.base;
	uint64_t m = lm ? ~0ull : soft_mask(ss.db ? 4 : 2);
	c->cpl = ncpl;     /* the pushes are supervisor accesses */
	sp = (sp - gsz) & m; soft_lin_write(c, base + sp, gsz, ossel);
	sp = (sp - gsz) & m; soft_lin_write(c, base + sp, gsz, osp);
	for (int k = (int)params - 1; k >= 0; k--) {
		sp = (sp - gsz) & m;
		soft_lin_write(c, base + sp, gsz, pv[k]);
	}
	sp = (sp - gsz) & m; soft_lin_write(c, base + sp, gsz, c->seg[S_CS].selector);
	sp = (sp - gsz) & m; soft_lin_write(c, base + sp, gsz, ret_rip);
	c->seg[S_SS] = ss;
	c->r[R_SP] = lm ? sp : ss.db ? (uint32_t)sp : (c->r[R_SP] & ~0xffffull) | (sp & 0xffff);
	set_cs(c, d, sel, ncpl);
	c->rip = off;
}

void soft_far_jump(struct accel_vcpu *c, uint16_t sel, uint64_t off, int osz, bool call,
		   uint64_t ret_rip)
{
	if (!(c->cr0 & CR0_PE) || (c->rflags & F_VM)) {
		off &= soft_mask(osz);
		if (off > c->seg[S_CS].limit)
			soft_gp(c, 0);
		if (call) {
			soft_push(c, osz, c->seg[S_CS].selector);
			soft_push(c, osz, ret_rip);
		}
		soft_load_seg_real(c, S_CS, sel);
		c->rip = off;
		soft_update_mode(c);
		return;
	}
	bool ok;
	uint64_t d = soft_read_desc(c, sel, EXC_GP, &ok);
	if (!ok)
		soft_gp(c, 0);
	struct kvm_segment n;
	soft_desc_to_seg(d, 0, sel, &n);
	uint32_t err = sel & 0xfffc;
	if (!n.s) {
		if ((n.type & 7) == 4)
			call_gate(c, d, sel, call, osz, ret_rip);
		else
			soft_emul_fail(c); /* task switch */
		return;
	}
	if (!(n.type & 8))
		soft_gp(c, err);
	if (n.type & 4) {
		if (n.dpl > c->cpl)
			soft_gp(c, err);
	} else if ((sel & 3) > c->cpl || n.dpl != c->cpl) {
		soft_gp(c, err);
	}
	if (!n.present)
		soft_raise(c, EXC_NP, true, err);
	if (!((c->efer & EFER_LMA) && n.l))
		off &= soft_mask(osz);
	check_target(c, &n, off);
	if (call) {
		soft_push(c, osz, c->seg[S_CS].selector);
		soft_push(c, osz, ret_rip);
	}
	set_cs(c, d, sel, c->cpl);
	c->rip = off;
}

static void null_outer_segs(struct accel_vcpu *c)
{
	static const int segs[] = { S_ES, S_DS, S_FS, S_GS };
	for (int k = 0; k < 4; k++) {
		struct kvm_segment *s = &c->seg[segs[k]];
		bool conf_code = (s->type & 0xc) == 0xc;
		if (!s->unusable && !conf_code && s->dpl < c->cpl)
			soft_null_seg(s, 0);
	}
}

/* The CS (and for a ring change SS:rSP) a far ret or iret returns to, read
 * from the stack at `at` (bytes above rSP). Commits nothing on a fault. */
static void return_to(struct accel_vcpu *c, uint64_t rip, uint16_t sel, int osz, int at,
		      bool pop_ss_always, uint64_t *flags, unsigned pop_bytes)
{
	bool ok;
	int rpl = sel & 3;
	uint32_t err = sel & 0xfffc;
	if (rpl < c->cpl)
		soft_gp(c, err);
	uint64_t d = soft_read_desc(c, sel, EXC_GP, &ok);
	if (!ok)
		soft_gp(c, 0);
	struct kvm_segment cs, ss;
	soft_desc_to_seg(d, 0, sel, &cs);
	if (!cs.s || !(cs.type & 8))
		soft_gp(c, err);
	if ((cs.type & 4) ? cs.dpl > rpl : cs.dpl != rpl)
		soft_gp(c, err);
	if (!cs.present)
		soft_raise(c, EXC_NP, true, err);
	bool outer = rpl > c->cpl || pop_ss_always;
	uint64_t nsp = 0;
	uint16_t nss = 0;
	if (outer) {
		nsp = soft_stack_peek(c, osz, at + pop_bytes);
		nss = soft_stack_peek(c, osz, at + pop_bytes + osz);
		int old = c->cpl;
		c->cpl = rpl;
		bool lm64 = (c->efer & EFER_LMA) && cs.l;
		if (!(nss & 0xfffc) && lm64 && rpl != 3) {
			soft_null_seg(&ss, nss);
			ss.dpl = rpl;
		} else {
			bool sok;
			uint64_t sd = soft_read_desc(c, nss, EXC_GP, &sok);
			if (!sok) {
				c->cpl = old;
				soft_gp(c, 0);
			}
			soft_desc_to_seg(sd, 0, nss, &ss);
			if ((nss & 3) != rpl || ss.dpl != rpl || !ss.s || (ss.type & 8) || !(ss.type & 2)) {
				c->cpl = old;
				soft_gp(c, nss & 0xfffc);
			}
			if (!ss.present) {
				c->cpl = old;
				soft_raise(c, EXC_SS, true, nss & 0xfffc);
			}
		}
		c->cpl = old;
	}
	uint64_t target = rip;
	if (!((c->efer & EFER_LMA) && cs.l))
		target &= soft_mask(osz);
	check_target(c, &cs, target);
	/* commit */
	if (flags) {
		uint64_t f = *flags, old = soft_get_flags(c);
		uint64_t mask = F_ARITH | F_TF | F_DF | F_NT | F_AC | F_ID | F_RF;
		if (c->cpl == 0)
			mask |= F_IOPL;
		if ((uint64_t)c->cpl <= ((old >> 12) & 3))
			mask |= F_IF;
		if (osz == 2)
			mask &= 0xffff;
		soft_set_flags(c, (old & ~mask) | (f & mask));
	}
	if (outer) {
		c->seg[S_SS] = ss;
		if (ss.db || c->efer & EFER_LMA)
			c->r[R_SP] = (c->efer & EFER_LMA) && cs.l ? nsp : (uint32_t)nsp;
		else
			c->r[R_SP] = (c->r[R_SP] & ~0xffffull) | (nsp & 0xffff);
	} else {
		uint64_t m = soft_mask(c->mode64 ? 8 : c->seg[S_SS].db ? 4 : 2);
		c->r[R_SP] = (c->r[R_SP] & ~m) | ((c->r[R_SP] + at + pop_bytes) & m);
	}
	int old_cpl = c->cpl;
	set_cs(c, d, sel, rpl);
	c->rip = target;
	if (rpl > old_cpl)
		null_outer_segs(c);
	if (outer && pop_bytes) {
		uint64_t m = soft_mask(c->mode64 ? 8 : c->seg[S_SS].db ? 4 : 2);
		c->r[R_SP] = (c->r[R_SP] & ~m) | ((c->r[R_SP] + pop_bytes) & m);
	}
}

void soft_far_ret(struct accel_vcpu *c, int osz, uint16_t pop_bytes)
{
	uint64_t rip = soft_stack_peek(c, osz, 0);
	uint16_t sel = soft_stack_peek(c, osz, osz);
	if (!(c->cr0 & CR0_PE) || (c->rflags & F_VM)) {
		rip &= soft_mask(osz);
		if (rip > c->seg[S_CS].limit)
			soft_gp(c, 0);
		soft_pop(c, osz);
		soft_pop(c, osz);
		soft_load_seg_real(c, S_CS, sel);
		c->rip = rip;
		uint64_t m = soft_mask(c->seg[S_SS].db ? 4 : 2);
		c->r[R_SP] = (c->r[R_SP] & ~m) | ((c->r[R_SP] + pop_bytes) & m);
		return;
	}
	return_to(c, rip, sel, osz, 2 * osz, false, NULL, pop_bytes);
}

void soft_iret(struct accel_vcpu *c, int osz)
{
	uint64_t rip = soft_stack_peek(c, osz, 0);
	uint16_t sel = soft_stack_peek(c, osz, osz);
	uint64_t fl = soft_stack_peek(c, osz, 2 * osz);
	if (c->nmi_masked) { /* iret unmasks NMIs: a pending one goes next */
		c->nmi_masked = false;
		atomic_store_explicit(&c->work, 1, memory_order_relaxed);
	}
	if (!(c->cr0 & CR0_PE)) {
		rip &= soft_mask(osz);
		if (rip > c->seg[S_CS].limit)
			soft_gp(c, 0);
		for (int k = 0; k < 3; k++)
			soft_pop(c, osz);
		soft_load_seg_real(c, S_CS, sel);
		c->rip = rip;
		uint64_t old = soft_get_flags(c);
		uint64_t mask = osz == 2 ? 0xffff : 0x257fd5;
		soft_set_flags(c, (old & ~mask) | (fl & mask));
		return;
	}
	if (c->rflags & F_VM)
		soft_emul_fail(c);
	if ((c->rflags & F_NT) && !(c->efer & EFER_LMA))
		soft_emul_fail(c); /* nested task return */
	if ((fl & F_VM) && c->cpl == 0 && osz == 4)
		soft_emul_fail(c); /* return to virtual-8086 mode */
	return_to(c, rip, sel, osz, 3 * osz, c->mode64, &fl, 0);
}
