/* soft_sys: system instructions: in/out with the TSS I/O permission bitmap,
 * hlt, cli/sti (with the interrupt shadow), flag bits, mov to/from CRn and
 * DRn with their side effects on the soft TLB and the mode, the descriptor
 * table instructions (lgdt ... ltr, str, smsw, lmsw), invlpg, clts,
 * wbinvd, swapgs, rdtsc/rdtscp, rdmsr/wrmsr, cpuid, syscall/sysret and
 * sysenter/sysexit. */
#include "engine/accel/soft/soft_cpu.h"

static void need_cpl0(struct accel_vcpu *c)
{
	if (c->cpl != 0)
		soft_gp(c, 0);
}

void soft_check_io_perm(struct accel_vcpu *c, uint16_t port, int size)
{
	if (!(c->cr0 & CR0_PE))
		return;
	if (!(c->rflags & F_VM) && (uint64_t)c->cpl <= ((c->rflags >> 12) & 3))
		return;
	if ((c->tr.type & 7) != 3 && (c->tr.type & 7) != 1)
		soft_gp(c, 0);
	if (c->tr.limit < 0x67)
		soft_gp(c, 0);
	uint64_t map = soft_lin_read_sys(c, c->tr.base + 0x66, 2) + port / 8;
	if (map + 1 > c->tr.limit)
		soft_gp(c, 0);
	uint16_t bits = soft_lin_read_sys(c, c->tr.base + map, 2);
	if ((bits >> (port & 7)) & ((1u << size) - 1))
		soft_gp(c, 0);
}

static void in_out(struct accel_vcpu *c, struct soft_insn *i)
{
	int size = (i->op & 1) ? (i->osz == 2 ? 2 : 4) : 1;
	uint16_t port = (i->op & 8) ? (uint16_t)c->r[R_DX] : (uint8_t)i->imm;
	soft_check_io_perm(c, port, size);
	uint64_t v = 0;
	if (i->op & 2) {
		v = c->r[R_AX];
		soft_io_access(c, true, port, &v, size, true);
	} else {
		soft_io_access(c, true, port, &v, size, false);
		soft_reg_set(c, i, R_AX, size, v);
	}
}

static void flag_ops(struct accel_vcpu *c, struct soft_insn *i)
{
	uint64_t f = soft_get_flags(c);
	int iopl = (f >> 12) & 3;
	switch (i->op) {
	case 0xf5: f ^= F_CF; break;
	case 0xf8: f &= ~(uint64_t)F_CF; break;
	case 0xf9: f |= F_CF; break;
	case 0xfc: f &= ~(uint64_t)F_DF; break;
	case 0xfd: f |= F_DF; break;
	case 0xfa:
		if ((c->cr0 & CR0_PE) && c->cpl > iopl)
			soft_gp(c, 0);
		f &= ~(uint64_t)F_IF;
		break;
	case 0xfb:
		if ((c->cr0 & CR0_PE) && c->cpl > iopl)
			soft_gp(c, 0);
		if (!(f & F_IF))
			c->shadow = 2, c->ss_shadow = false;
		f |= F_IF;
		break;
	}
	soft_set_flags(c, f);
}

static void set_al(struct accel_vcpu *c, uint64_t al)
{
	c->r[R_AX] = (c->r[R_AX] & ~0xffull) | (al & 0xff);
}

/* daa, das, aaa, aas, aam, aad, salc: the decimal-arithmetic leftovers. */
static void bcd(struct accel_vcpu *c, struct soft_insn *i)
{
	if (c->mode64)
		soft_ud(c);
	uint64_t f = soft_get_flags(c);
	unsigned al = c->r[R_AX] & 0xff, ah = (c->r[R_AX] >> 8) & 0xff;
	bool cf = f & F_CF, af = f & F_AF;
	switch (i->op) {
	case 0x27: case 0x2f: { /* daa, das */
		bool sub = i->op == 0x2f, ncf = false;
		unsigned v = al;
		if ((al & 0xf) > 9 || af) {
			ncf = cf || (sub ? al < 6 : al + 6 > 0xff);
			v = sub ? v - 6 : v + 6;
			af = true;
		} else {
			af = false;
		}
		if (al > 0x99 || cf) {
			v = sub ? v - 0x60 : v + 0x60;
			ncf = true;
		} else if (!sub) {
			ncf = false; /* daa clears CF here, das keeps it */
		}
		set_al(c, v);
		soft_set_szp(c, 1, v, ncf ? F_CF : 0);
		c->rflags = (c->rflags & ~(uint64_t)F_AF) | (af ? F_AF : 0);
		return;
	}
	case 0x37: case 0x3f: { /* aaa, aas */
		bool adj = (al & 0xf) > 9 || af;
		uint64_t ax = c->r[R_AX] & 0xffff;
		if (adj)
			ax = i->op == 0x37 ? ax + 0x106 : ((ax - 6) & 0xff) | ((((ax >> 8) - 1) & 0xff) << 8);
		ax = (ax & 0xff00) | (ax & 0xf);
		c->r[R_AX] = (c->r[R_AX] & ~0xffffull) | (ax & 0xffff);
		soft_set_szp(c, 1, ax, adj ? F_CF : 0);
		c->rflags = (c->rflags & ~(uint64_t)F_AF) | (adj ? F_AF : 0);
		return;
	}
	case 0xd4: /* aam */
		if ((i->imm & 0xff) == 0)
			soft_raise(c, EXC_DE, false, 0);
		ah = al / (i->imm & 0xff);
		al = al % (i->imm & 0xff);
		c->r[R_AX] = (c->r[R_AX] & ~0xffffull) | (ah << 8) | al;
		soft_set_szp(c, 1, al, 0);
		return;
	case 0xd5: /* aad */
		al = (al + ah * (i->imm & 0xff)) & 0xff;
		c->r[R_AX] = (c->r[R_AX] & ~0xffffull) | al;
		soft_set_szp(c, 1, al, 0);
		return;
	default: /* salc */
		set_al(c, cf ? 0xff : 0);
		return;
	}
}

void soft_exec_sys1(struct accel_vcpu *c, struct soft_insn *i)
{
	switch (i->op) {
	case 0xe4: case 0xe5: case 0xe6: case 0xe7:
	case 0xec: case 0xed: case 0xee: case 0xef:
		in_out(c, i);
		return;
	case 0xf4:
		need_cpl0(c);
		c->mp_state = KVM_MP_STATE_HALTED;
		c->exit_block = true;
		return;
	case 0xd4: case 0xd5: case 0xd6: case 0x27: case 0x2f: case 0x37: case 0x3f:
		bcd(c, i);
		return;
	}
	flag_ops(c, i);
}

static void desc_table(struct accel_vcpu *c, struct soft_insn *i, struct kvm_dtable *t, bool load)
{
	if (!i->mem)
		soft_ud(c);
	uint64_t ea = soft_ea(c, i);
	int bsz = c->mode64 ? 8 : 4;
	if (load) {
		need_cpl0(c);
		uint16_t limit = soft_read(c, i->seg, ea, 2);
		uint64_t base = soft_read(c, i->seg, (ea + 2) & soft_mask(i->asz), bsz);
		if (!c->mode64 && i->osz == 2)
			base &= 0xffffff;
		if (c->mode64 && (uint64_t)((int64_t)(base << 16) >> 16) != base)
			soft_gp(c, 0);
		t->limit = limit;
		t->base = base;
	} else {
		soft_write(c, i->seg, ea, 2, t->limit);
		soft_write(c, i->seg, (ea + 2) & soft_mask(i->asz), bsz, t->base);
	}
}

static void load_ldt_tr(struct accel_vcpu *c, uint16_t sel, bool tr)
{
	need_cpl0(c);
	if (!(c->cr0 & CR0_PE) || (c->rflags & F_VM))
		soft_ud(c);
	bool ok, lm = c->efer & EFER_LMA;
	if (sel & 4)
		soft_gp(c, sel & 0xfffc);
	uint64_t d = soft_read_desc(c, sel, EXC_GP, &ok);
	if (!ok) {
		if (tr)
			soft_gp(c, 0);
		soft_null_seg(&c->ldt, sel);
		return;
	}
	uint64_t hi = lm ? soft_lin_read_sys(c, c->gdt.base + (sel & ~7u) + 8, 8) : 0;
	struct kvm_segment s;
	soft_desc_to_seg(d, hi, sel, &s);
	if (lm && (uint64_t)((int64_t)(s.base << 16) >> 16) != s.base)
		soft_gp(c, sel & 0xfffc);
	bool good = tr ? (!s.s && (s.type == 9 || (!lm && s.type == 1))) : (!s.s && s.type == 2);
	if (!good)
		soft_gp(c, sel & 0xfffc);
	if (!s.present)
		soft_raise(c, EXC_NP, true, sel & 0xfffc);
	if (tr) {
		soft_set_desc_busy_or_accessed(c, sel, 2);
		s.type |= 2;
		c->tr = s;
	} else {
		c->ldt = s;
	}
}

static void verify(struct accel_vcpu *c, struct soft_insn *i, bool write);
static void lar_lsl(struct accel_vcpu *c, struct soft_insn *i);

static void group6(struct accel_vcpu *c, struct soft_insn *i)
{
	if (!(c->cr0 & CR0_PE) || (c->rflags & F_VM))
		soft_ud(c);
	switch (i->reg & 7) {
	case 0: soft_rm_set(c, i, i->mem ? 2 : i->osz, c->ldt.selector); return;
	case 1: soft_rm_set(c, i, i->mem ? 2 : i->osz, c->tr.selector); return;
	case 2: load_ldt_tr(c, soft_rm_get(c, i, 2), false); return;
	case 3: load_ldt_tr(c, soft_rm_get(c, i, 2), true); return;
	case 4: case 5: verify(c, i, (i->reg & 7) == 5); return;
	default: soft_ud(c);
	}
}

/* The descriptor `sel` names if it is visible at this CPL/RPL (for verr,
 * verw, lar, lsl), else false. Never faults on the selector itself. */
static bool visible_desc(struct accel_vcpu *c, uint16_t sel, uint64_t *d)
{
	uint64_t base = (sel & 4) ? c->ldt.base : c->gdt.base;
	uint64_t limit = (sel & 4) ? c->ldt.limit : c->gdt.limit;
	if (!(sel & 0xfffc) || ((sel & 4) && c->ldt.unusable) || (uint64_t)(sel & ~7u) + 7 > limit)
		return false;
	*d = soft_lin_read_sys(c, base + (sel & ~7u), 8);
	int dpl = (*d >> 45) & 3, type = (*d >> 40) & 15;
	bool conforming_code = ((*d >> 44) & 1) && (type & 0xc) == 0xc;
	int need = c->cpl > (sel & 3) ? c->cpl : (sel & 3);
	return conforming_code || dpl >= need;
}

static void set_zf(struct accel_vcpu *c, bool zf)
{
	soft_flags_materialize(c);
	c->rflags = (c->rflags & ~(uint64_t)F_ZF) | (zf ? F_ZF : 0);
}

/* verr / verw: ZF says whether the segment could be read / written. */
static void verify(struct accel_vcpu *c, struct soft_insn *i, bool write)
{
	uint64_t d;
	uint16_t sel = soft_rm_get(c, i, 2);
	bool ok = visible_desc(c, sel, &d) && ((d >> 44) & 1);
	int type = (d >> 40) & 15;
	if (ok)
		ok = write ? !(type & 8) && (type & 2) : !(type & 8) || (type & 2);
	set_zf(c, ok);
}

/* lar (0f 02) and lsl (0f 03). */
static void lar_lsl(struct accel_vcpu *c, struct soft_insn *i)
{
	if (!(c->cr0 & CR0_PE) || (c->rflags & F_VM))
		soft_ud(c);
	uint64_t d;
	uint16_t sel = soft_rm_get(c, i, 2);
	bool ok = visible_desc(c, sel, &d);
	int type = (d >> 40) & 15;
	if (ok && !((d >> 44) & 1)) { /* system descriptors: LDT, TSS, and for lar gates */
		bool lm = c->efer & EFER_LMA;
		static const uint16_t lar_ok = 1u << 1 | 1u << 2 | 1u << 3 | 1u << 4 | 1u << 5 | 1u << 9 | 1u << 11 | 1u << 12;
		static const uint16_t lsl_ok = 1u << 1 | 1u << 2 | 1u << 3 | 1u << 9 | 1u << 11;
		static const uint16_t lm_ok = 1u << 2 | 1u << 9 | 1u << 11;
		uint16_t allowed = lm ? lm_ok | (i->op == 0x02 ? 1u << 12 : 0) : i->op == 0x02 ? lar_ok : lsl_ok;
		ok = (allowed >> type) & 1;
	}
	set_zf(c, ok);
	if (!ok)
		return;
	if (i->op == 0x02) {
		soft_reg_set(c, i, i->reg, i->osz == 2 ? 2 : 4, (d >> 32) & 0x00f0ff00);
	} else {
		uint64_t limit = (d & 0xffff) | ((d >> 32) & 0xf0000);
		if ((d >> 55) & 1)
			limit = (limit << 12) | 0xfff;
		soft_reg_set(c, i, i->reg, i->osz == 2 ? 2 : 4, limit);
	}
}

/* vmcall/vmmcall as a KVM guest sees them: KVM_HC_SEND_IPI (10) sends IPIs
 * (RAX = how many), anything else is -KVM_ENOSYS, and ring > 0 -KVM_EPERM. */
static void hypercall(struct accel_vcpu *c)
{
	bool op64 = c->mode64;
	uint64_t m = op64 ? ~0ull : 0xffffffffull;
	uint64_t nr = c->r[R_AX] & m;
	long ret;
	if (c->cpl)
		ret = -1;
	else if (nr == 10)
		ret = irqchip_pv_send_ipi(c->vm->chip, c->index, c->r[R_BX] & m, c->r[R_CX] & m,
					  (uint32_t)c->r[R_DX], (uint32_t)c->r[R_SI], op64 ? 64 : 32);
	else
		ret = -1000;
	c->r[R_AX] = (uint64_t)ret & m;
}

static void xsetbv(struct accel_vcpu *c)
{
	need_cpl0(c);
	if (!(c->cr4 & CR4_OSXSAVE))
		soft_ud(c);
	uint64_t v = (c->r[R_DX] << 32) | (uint32_t)c->r[R_AX];
	if ((uint32_t)c->r[R_CX] != 0 || !(v & 1) || (v & ~3ull))
		soft_gp(c, 0);
	c->xcr0 = v;
}

static void group7(struct accel_vcpu *c, struct soft_insn *i)
{
	if (!i->mem) {
		switch (i->modrm) {
		case 0xd0:
			if (!(c->cr4 & CR4_OSXSAVE))
				soft_ud(c);
			if ((uint32_t)c->r[R_CX] != 0)
				soft_gp(c, 0);
			c->r[R_AX] = (uint32_t)c->xcr0;
			c->r[R_DX] = c->xcr0 >> 32;
			return;
		case 0xd1: xsetbv(c); return;
		case 0xc8: case 0xc9: case 0xca: case 0xcb: case 0xd5: case 0xd6: case 0xee: case 0xef:
		case 0xfc: case 0xfd:
			/* monitor/mwait, clac/stac, xend/xtest, rd/wrpkru, clzero, rdpru: not in
			 * this CPU's CPUID, so #UD as on a CPU without them */
			soft_ud(c);
		case 0xc1: case 0xd9: /* vmcall, vmmcall: KVM's hypercalls */
			hypercall(c);
			return;
		case 0xf8:
			if (!c->mode64)
				soft_ud(c);
			need_cpl0(c);
			{
				uint64_t t = c->seg[S_GS].base;
				c->seg[S_GS].base = c->kgsbase;
				c->kgsbase = t;
			}
			return;
		case 0xf9: {
			uint64_t t = soft_tsc(c);
			c->r[R_AX] = (uint32_t)t;
			c->r[R_DX] = t >> 32;
			c->r[R_CX] = (uint32_t)c->tsc_aux;
			return;
		}
		}
		if ((i->reg & 7) == 4) {
			soft_rm_set(c, i, i->osz, c->cr0);
			return;
		}
		if ((i->reg & 7) == 6) {
			need_cpl0(c);
			uint64_t v = soft_rm_get(c, i, 2);
			soft_write_cr(c, 0, (c->cr0 & ~0xeull) | (v & 0xf) | (c->cr0 & 1));
			return;
		}
		soft_emul_fail(c);
	}
	switch (i->reg & 7) {
	case 0: desc_table(c, i, &c->gdt, false); return;
	case 1: desc_table(c, i, &c->idt, false); return;
	case 2: desc_table(c, i, &c->gdt, true); return;
	case 3: desc_table(c, i, &c->idt, true); return;
	case 4: soft_rm_set(c, i, 2, c->cr0); return;
	case 6: {
		need_cpl0(c);
		uint64_t v = soft_rm_get(c, i, 2);
		soft_write_cr(c, 0, (c->cr0 & ~0xeull) | (v & 0xf) | (c->cr0 & 1));
		return;
	}
	case 7:
		need_cpl0(c);
		soft_tlb_flush_page(c, soft_linear(c, i->seg, soft_ea(c, i), 1, -1));
		return;
	}
	soft_emul_fail(c);
}

static void mov_cr_dr(struct accel_vcpu *c, struct soft_insn *i)
{
	need_cpl0(c);
	int size = c->mode64 ? 8 : 4;
	int n = i->reg;
	if (i->op == 0x20 || i->op == 0x22) {
		if (n != 0 && n != 2 && n != 3 && n != 4 && n != 8)
			soft_ud(c);
		if (i->op == 0x20)
			soft_reg_set(c, i, i->rm, size, soft_read_cr(c, n));
		else
			soft_write_cr(c, n, c->r[i->rm] & soft_mask(size));
		return;
	}
	if (n > 7)
		soft_ud(c);
	if (c->dr7 & 0x2000) { /* DR7.GD: general detect, a #DB fault with DR6.BD */
		c->dr7 &= ~0x2000ull;
		c->dr6 = (c->dr6 & ~0xfull) | 0x2000;
		soft_raise(c, EXC_DB, false, 0);
	}
	if ((n == 4 || n == 5) && !(c->cr4 & 8))
		n += 2;
	else if (n == 4 || n == 5)
		soft_ud(c);
	if (i->op == 0x21) {
		uint64_t v = n < 4 ? c->dr[n] : n == 6 ? c->dr6 : c->dr7;
		soft_reg_set(c, i, i->rm, size, v);
		return;
	}
	uint64_t v = c->r[i->rm] & soft_mask(size);
	if (n < 4)
		c->dr[n] = v;
	else if (n == 6)
		c->dr6 = (v & 0x1e00f) | 0xffff0ff0;
	else
		c->dr7 = (v & 0xffff2bff) | 0x400;
	c->exit_block = true;
	c->watch = ((c->dbg_control & KVM_GUESTDBG_USE_HW_BP) ? c->dbg_reg[7] : c->dr7) & 0xff;
}

static struct kvm_segment flat(uint16_t sel, bool code, int dpl, bool l)
{
	struct kvm_segment s = { .base = 0, .limit = 0xffffffff, .selector = sel,
				 .type = code ? 0xb : 0x3, .present = 1, .dpl = dpl,
				 .db = !l, .s = 1, .l = l, .g = 1 };
	return s;
}

static void fast_calls(struct accel_vcpu *c, struct soft_insn *i)
{
	bool lm = c->efer & EFER_LMA;
	uint64_t f = soft_get_flags(c);
	uint16_t base;
	switch (i->op) {
	case 0x05: /* syscall */
		if (!(c->efer & EFER_SCE))
			soft_ud(c);
		base = (c->star >> 32) & 0xfffc;
		c->r[R_CX] = c->rip;
		if (lm) {
			c->r[11] = f & ~(uint64_t)F_RF;
			c->rip = c->mode64 ? c->lstar : c->cstar;
			soft_set_flags(c, f & ~(c->sfmask | F_RF));
		} else {
			c->rip = (uint32_t)c->star;
			soft_set_flags(c, f & ~(uint64_t)(F_IF | F_VM | F_RF));
		}
		c->seg[S_CS] = flat(base, true, 0, lm);
		c->seg[S_SS] = flat(base + 8, false, 0, false);
		c->cpl = 0;
		c->no_trap = !(c->rflags & F_TF);
		break;
	case 0x07: /* sysret */
		if (!(c->efer & EFER_SCE))
			soft_ud(c);
		if (c->cpl != 0 || !(c->cr0 & CR0_PE))
			soft_gp(c, 0);
		base = (c->star >> 48) & 0xffff;
		if (i->osz == 8) {
			if ((uint64_t)((int64_t)(c->r[R_CX] << 16) >> 16) != c->r[R_CX])
				soft_gp(c, 0);
			c->seg[S_CS] = flat((base + 16) | 3, true, 3, true);
			c->rip = c->r[R_CX];
		} else {
			c->seg[S_CS] = flat(base | 3, true, 3, false);
			c->rip = (uint32_t)c->r[R_CX];
		}
		if (lm)
			soft_set_flags(c, (c->r[11] & 0x3c7fd7) | 2);
		else
			soft_set_flags(c, f | F_IF);
		/* a sysret that sets TF traps at once, before the next instruction */
		c->trap_now = c->rflags & F_TF;
		c->seg[S_SS].selector = (base + 8) | 3;
		c->seg[S_SS].dpl = 3;
		c->seg[S_SS].unusable = 0;
		c->seg[S_SS].present = 1;
		c->cpl = 3;
		break;
	case 0x34: /* sysenter */
		if (!(c->cr0 & CR0_PE) || !(c->sysenter_cs & 0xfffc))
			soft_gp(c, 0);
		base = c->sysenter_cs & 0xfffc;
		soft_set_flags(c, f & ~(uint64_t)(F_IF | F_VM | F_RF));
		c->seg[S_CS] = flat(base, true, 0, lm);
		c->seg[S_SS] = flat(base + 8, false, 0, false);
		c->rip = lm ? c->sysenter_eip : (uint32_t)c->sysenter_eip;
		c->r[R_SP] = lm ? c->sysenter_esp : (uint32_t)c->sysenter_esp;
		c->cpl = 0;
		break;
	default: /* sysexit */
		if (!(c->cr0 & CR0_PE) || !(c->sysenter_cs & 0xfffc) || c->cpl != 0)
			soft_gp(c, 0);
		base = c->sysenter_cs & 0xfffc;
		if (i->osz == 8) {
			c->seg[S_CS] = flat((base + 32) | 3, true, 3, true);
			c->seg[S_SS] = flat((base + 40) | 3, false, 3, false);
			c->rip = c->r[R_DX];
			c->r[R_SP] = c->r[R_CX];
		} else {
			c->seg[S_CS] = flat((base + 16) | 3, true, 3, false);
			c->seg[S_SS] = flat((base + 24) | 3, false, 3, false);
			c->rip = (uint32_t)c->r[R_DX];
			c->r[R_SP] = (uint32_t)c->r[R_CX];
		}
		c->cpl = 3;
		break;
	}
	soft_update_mode(c);
}

void soft_exec_sys2(struct accel_vcpu *c, struct soft_insn *i)
{
	uint64_t v;
	uint32_t out[4];
	switch (i->op) {
	case 0x00: group6(c, i); return;
	case 0x02: case 0x03: lar_lsl(c, i); return;
	case 0x01: group7(c, i); return;
	case 0x05: case 0x07: case 0x34: case 0x35: fast_calls(c, i); return;
	case 0x06:
		need_cpl0(c);
		c->cr0 &= ~(uint64_t)CR0_TS;
		return;
	case 0x08: case 0x09: need_cpl0(c); return;
	case 0x0b: soft_ud(c);
	case 0x0d: case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d:
	case 0x1e: case 0x1f:
		return; /* prefetch, hint nops */
	case 0x20: case 0x21: case 0x22: case 0x23: mov_cr_dr(c, i); return;
	case 0x30:
		need_cpl0(c);
		if (!soft_wrmsr(c, (uint32_t)c->r[R_CX], (c->r[R_DX] << 32) | (uint32_t)c->r[R_AX]))
			soft_gp(c, 0);
		return;
	case 0x31:
		if ((c->cr4 & 4) && c->cpl != 0)
			soft_gp(c, 0);
		v = soft_tsc(c);
		c->r[R_AX] = (uint32_t)v;
		c->r[R_DX] = v >> 32;
		return;
	case 0x32:
		need_cpl0(c);
		if (!soft_rdmsr(c, (uint32_t)c->r[R_CX], &v))
			soft_gp(c, 0);
		c->r[R_AX] = (uint32_t)v;
		c->r[R_DX] = v >> 32;
		return;
	case 0xa2:
		soft_cpuid(c, (uint32_t)c->r[R_AX], (uint32_t)c->r[R_CX], out);
		for (int k = 0; k < 4; k++)
			c->r[k == 0 ? R_AX : k == 1 ? R_BX : k == 2 ? R_CX : R_DX] = out[k];
		return;
	}
	soft_emul_fail(c);
}

uint64_t soft_read_cr(struct accel_vcpu *c, int cr)
{
	switch (cr) {
	case 0: return c->cr0;
	case 2: return c->cr2;
	case 3: return c->cr3;
	case 4: return c->cr4;
	default: return irqchip_get_cr8(c->vm->chip, c->index);
	}
}

#define CR4_OK (0x1u | 0x2u | 0x4u | 0x8u | CR4_PSE | CR4_PAE | CR4_PGE | 0x100u | CR4_OSFXSR | 0x400u | CR4_OSXSAVE)

void soft_write_cr(struct accel_vcpu *c, int cr, uint64_t v)
{
	uint64_t old;
	switch (cr) {
	case 0:
		old = c->cr0;
		if ((v >> 32) || ((v & CR0_PG) && !(v & CR0_PE)) || ((v & CR0_NW) && !(v & CR0_CD)))
			soft_gp(c, 0);
		if ((v & CR0_PG) && !(old & CR0_PG) && (c->efer & EFER_LME)) {
			if (!(c->cr4 & CR4_PAE))
				soft_gp(c, 0);
			c->efer |= EFER_LMA;
		}
		if (!(v & CR0_PG) && (old & CR0_PG) && (c->efer & EFER_LMA)) {
			if (c->mode64)
				soft_gp(c, 0);
			c->efer &= ~(uint64_t)EFER_LMA;
		}
		c->cr0 = v | CR0_ET;
		if ((old ^ v) & (CR0_PG | CR0_WP | CR0_PE))
			soft_tlb_flush(c, false);
		soft_update_mode(c);
		return;
	case 2: c->cr2 = v; return;
	case 3:
		if (!(c->efer & EFER_LMA))
			v = (uint32_t)v;
		c->cr3 = v;
		soft_tlb_flush(c, true);
		return;
	case 4:
		old = c->cr4;
		if (v & ~(uint64_t)CR4_OK)
			soft_gp(c, 0);
		if ((c->efer & EFER_LMA) && !(v & CR4_PAE))
			soft_gp(c, 0);
		c->cr4 = v;
		if ((old ^ v) & (CR4_PSE | CR4_PAE | CR4_PGE))
			soft_tlb_flush(c, false);
		return;
	default:
		if (v > 15)
			soft_gp(c, 0);
		irqchip_set_cr8(c->vm->chip, c->index, v);
		atomic_store_explicit(&c->work, 1, memory_order_relaxed);
		return;
	}
}
