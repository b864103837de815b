/* soft_fast: specialised handlers for the instructions compute loops are
 * made of (register-register and register-immediate ALU operations, inc/dec
 * and mov on registers, jcc), chosen at decode time by soft_specialize. They
 * do what the general handlers do, minus the operand-form dispatch: the
 * differential test (test_soft_alu) runs through them too. */
#include "engine/accel/soft/soft_cpu.h"

static inline void put(struct accel_vcpu *c, int r, int size, uint64_t v)
{
	if (size == 8)
		c->r[r] = v;
	else if (size == 4)
		c->r[r] = (uint32_t)v;
	else
		c->r[r] = (c->r[r] & ~0xffffull) | (v & 0xffff);
}

static inline void lazy(struct accel_vcpu *c, enum soft_ccop op, int size, uint64_t a,
			uint64_t b, uint64_t res)
{
	c->cc_op = op;
	c->cc_size = size;
	c->cc_a = a;
	c->cc_b = b;
	c->cc_res = res;
}

/* Group-1 op on full-width registers; returns false if not one of ours. */
static inline void alu(struct accel_vcpu *c, int op, int size, int dst, uint64_t b)
{
	uint64_t m = soft_mask(size), a = c->r[dst] & m, res;
	b &= m;
	switch (op) {
	case 0: res = a + b; lazy(c, CC_ADD, size, a, b, res); break;
	case 1: res = a | b; lazy(c, CC_LOGIC, size, a, b, res); break;
	case 4: res = a & b; lazy(c, CC_LOGIC, size, a, b, res); break;
	case 5: res = a - b; lazy(c, CC_SUB, size, a, b, res); break;
	case 6: res = a ^ b; lazy(c, CC_LOGIC, size, a, b, res); break;
	case 7: lazy(c, CC_SUB, size, a, b, a - b); return;
	default: res = soft_alu(c, op, size, a, b); break;
	}
	put(c, dst, size, res);
}

static void f_alu_rr(struct accel_vcpu *c, struct soft_insn *i)
{
	if (i->op & 2)
		alu(c, i->op >> 3, i->osz, i->reg, c->r[i->rm]);
	else
		alu(c, i->op >> 3, i->osz, i->rm, c->r[i->reg]);
}

static void f_alu_ri(struct accel_vcpu *c, struct soft_insn *i)
{
	alu(c, i->reg & 7, i->osz, i->rm, (uint64_t)i->disp);
}

static void f_test_rr(struct accel_vcpu *c, struct soft_insn *i)
{
	uint64_t m = soft_mask(i->osz), a = c->r[i->rm] & m, b = c->r[i->reg] & m;
	lazy(c, CC_LOGIC, i->osz, a, b, a & b);
}

static void f_incdec(struct accel_vcpu *c, struct soft_insn *i)
{
	int size = i->osz;
	uint64_t m = soft_mask(size), a = c->r[i->rm] & m;
	bool cf = soft_cf(c), dec = i->reg & 1;
	uint64_t res = dec ? a - 1 : a + 1;
	lazy(c, dec ? CC_DEC : CC_INC, size, a, 1, res);
	c->cc_cf = cf;
	put(c, i->rm, size, res & m);
}

static void f_mov_rr(struct accel_vcpu *c, struct soft_insn *i)
{
	if (i->op == 0x89)
		put(c, i->rm, i->osz, c->r[i->reg]);
	else
		put(c, i->reg, i->osz, c->r[i->rm]);
}

static void f_mov_ri(struct accel_vcpu *c, struct soft_insn *i)
{
	put(c, i->rm, i->osz, (uint64_t)i->disp);
}

static void f_jcc(struct accel_vcpu *c, struct soft_insn *i)
{
	if (soft_cond(c, i->op & 15))
		soft_jump(c, c->rip + (uint64_t)i->disp, c->mode64 ? 8 : i->osz);
}

void soft_specialize(struct accel_vcpu *c, struct soft_insn *i)
{
	(void)c;
	uint8_t op = i->op;
	bool reg_form = !i->mem && i->osz >= 2 && !i->lock && !i->rep;
	if (i->map == 1) {
		if (op >= 0x80 && op <= 0x8f && !(c->mode64 && i->osz == 2)) {
			i->disp = (int64_t)soft_sext(i->imm, i->osz == 2 ? 2 : 4);
			i->fn = f_jcc;
		}
		return;
	}
	if (op >= 0x70 && op <= 0x7f) {
		i->disp = (int64_t)soft_sext(i->imm, 1);
		i->fn = f_jcc;
	} else if (op < 0x40 && ((op & 7) == 1 || (op & 7) == 3) && reg_form) {
		i->fn = f_alu_rr;
	} else if ((op == 0x81 || op == 0x83) && reg_form) {
		i->disp = (int64_t)(op == 0x83 ? soft_sext(i->imm, 1) : soft_sext(i->imm, i->osz == 2 ? 2 : 4));
		i->fn = f_alu_ri;
	} else if (op == 0x85 && reg_form) {
		i->fn = f_test_rr;
	} else if (op == 0xff && (i->reg & 7) < 2 && reg_form) {
		i->fn = f_incdec;
	} else if ((op == 0x89 || op == 0x8b) && reg_form) {
		i->fn = f_mov_rr;
	} else if (op >= 0xb8 && op <= 0xbf && i->osz >= 2 && !i->lock) {
		i->rm = (op & 7) | ((i->rex & 1) << 3);
		i->disp = (int64_t)i->imm;
		i->fn = f_mov_ri;
	} else if (op == 0xc7 && reg_form) {
		i->disp = (int64_t)soft_sext(i->imm, i->osz == 2 ? 2 : 4);
		i->fn = f_mov_ri;
	} else if (op >= 0x40 && op <= 0x4f && !c->mode64 && !i->lock) {
		i->rm = op & 7;
		i->reg = (op >> 3) & 1;
		i->fn = f_incdec;
	}
}
