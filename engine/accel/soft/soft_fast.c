/* soft_fast: specialised handlers for the instructions compute loops are
 * made of (register-register and register-immediate ALU operations, inc/dec
 * and mov on registers, jcc), chosen at decode time by soft_specialize. Each
 * ALU handler is generated for one operation and one operand size, so the
 * compiler folds the masks and the dispatch away. They do what the general
 * handlers do; the differential tests (test_soft_alu) run through them. */
#include <string.h>

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
	c->cc_res = res & soft_mask(size);
}

/* Group-1 op `op` on register `dst` with `b`; inlined with constants. */
static inline __attribute__((always_inline)) void alu(struct accel_vcpu *c, int op, int size,
						      int dst, uint64_t b)
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
	put(c, dst, size, res & m);
}

/* One handler per operation, size and form: _rm (ModRM rm is the
 * destination), _reg (reg is), _imm (rm op= the immediate in disp). */
#define ALU_FORMS(op, sz)                                                            \
	static void f_alu##op##_##sz##_rm(struct accel_vcpu *c, struct soft_insn *i)  \
	{                                                                            \
		alu(c, op, sz, i->rm, c->r[i->reg]);                                 \
	}                                                                            \
	static void f_alu##op##_##sz##_reg(struct accel_vcpu *c, struct soft_insn *i) \
	{                                                                            \
		alu(c, op, sz, i->reg, c->r[i->rm]);                                 \
	}                                                                            \
	static void f_alu##op##_##sz##_imm(struct accel_vcpu *c, struct soft_insn *i) \
	{                                                                            \
		alu(c, op, sz, i->rm, (uint64_t)i->disp);                            \
	}
#define ALU_SIZES(op) ALU_FORMS(op, 2) ALU_FORMS(op, 4) ALU_FORMS(op, 8)
ALU_SIZES(0) ALU_SIZES(1) ALU_SIZES(2) ALU_SIZES(3) ALU_SIZES(4) ALU_SIZES(5) ALU_SIZES(6) ALU_SIZES(7)

#define ALU_ROW(op, sz) { f_alu##op##_##sz##_rm, f_alu##op##_##sz##_reg, f_alu##op##_##sz##_imm }
#define ALU_OP(op) { ALU_ROW(op, 2), ALU_ROW(op, 4), ALU_ROW(op, 8) }
static const soft_exec_fn alu_table[8][3][3] = {
	ALU_OP(0), ALU_OP(1), ALU_OP(2), ALU_OP(3), ALU_OP(4), ALU_OP(5), ALU_OP(6), ALU_OP(7),
};

static soft_exec_fn alu_fn(int op, int size, int form)
{
	return alu_table[op][size == 2 ? 0 : size == 4 ? 1 : 2][form];
}

static void f_test_rr(struct accel_vcpu *c, struct soft_insn *i)
{
	uint64_t m = soft_mask(i->osz), a = c->r[i->rm] & m, b = c->r[i->reg] & m;
	lazy(c, CC_LOGIC, i->osz, a, b, a & b);
}

#define INCDEC(name, sz, dec)                                                        \
	static void name(struct accel_vcpu *c, struct soft_insn *i)                  \
	{                                                                            \
		uint64_t m = soft_mask(sz), a = c->r[i->rm] & m;                     \
		bool cf = soft_cf(c);                                                \
		uint64_t res = dec ? a - 1 : a + 1;                                  \
		lazy(c, dec ? CC_DEC : CC_INC, sz, a, 1, res);                       \
		c->cc_cf = cf;                                                       \
		put(c, i->rm, sz, res & m);                                          \
	}
INCDEC(f_inc2, 2, 0) INCDEC(f_inc4, 4, 0) INCDEC(f_inc8, 8, 0)
INCDEC(f_dec2, 2, 1) INCDEC(f_dec4, 4, 1) INCDEC(f_dec8, 8, 1)

static soft_exec_fn incdec_fn(int size, bool dec)
{
	static const soft_exec_fn t[2][3] = { { f_inc2, f_inc4, f_inc8 }, { f_dec2, f_dec4, f_dec8 } };
	return t[dec][size == 2 ? 0 : size == 4 ? 1 : 2];
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

static inline void branch(struct accel_vcpu *c, struct soft_insn *i)
{
	uint64_t t = c->rip + (uint64_t)i->disp;
	if (c->mode64 && (uint64_t)((int64_t)(t << 16) >> 16) == t)
		c->rip = t;
	else
		soft_jump(c, t, c->mode64 ? 8 : i->osz);
}

static void f_jcc(struct accel_vcpu *c, struct soft_insn *i)
{
	if (soft_cond(c, i->op & 15))
		branch(c, i);
}

/* jz / jnz: the result alone decides (cc_res is kept masked) */
static void f_jz(struct accel_vcpu *c, struct soft_insn *i)
{
	if (c->cc_op != CC_NONE ? c->cc_res == 0 : (c->rflags & F_ZF) != 0)
		branch(c, i);
}

static void f_jnz(struct accel_vcpu *c, struct soft_insn *i)
{
	if (c->cc_op != CC_NONE ? c->cc_res != 0 : (c->rflags & F_ZF) == 0)
		branch(c, i);
}

static soft_exec_fn jcc_fn(int cc)
{
	return cc == 4 ? f_jz : cc == 5 ? f_jnz : f_jcc;
}

/* Loads and stores of 4 or 8 bytes in 64-bit mode: the soft TLB looked up
 * in line (a tag only ever holds a canonical page, so a hit is canonical
 * too); anything else (a miss, a page crossing, a data breakpoint) takes the
 * general path. */
static inline uint8_t *tlb_hit(struct accel_vcpu *c, uint64_t lin, int size, int kind)
{
	struct soft_tlb_entry *e = &c->tlb[(lin >> 12) % TLB_SIZE];
	if (e->tag[kind + (c->cpl == 3 ? ACC_KINDS : 0)] != (lin & ~0xfffull) ||
	    (lin & 0xfff) > (uint64_t)(0x1000 - size) || c->watch)
		return NULL;
	return (uint8_t *)(e->addend + lin);
}

static inline uint64_t lin64(struct accel_vcpu *c, struct soft_insn *i)
{
	uint64_t ea = soft_ea(c, i);
	return i->seg >= S_FS ? ea + c->seg[i->seg].base : ea;
}

#define LOADSTORE(sz)                                                                	static void f_load##sz(struct accel_vcpu *c, struct soft_insn *i)            	{                                                                            		uint8_t *p = tlb_hit(c, lin64(c, i), sz, ACC_R);                     		uint64_t v = 0;                                                      		if (p)                                                               			v = soft_ram_load(p, sz);                                             		else                                                                 			v = soft_read(c, i->seg, soft_ea(c, i), sz);                 		put(c, i->reg, sz, v);                                               	}                                                                            	static void f_store##sz(struct accel_vcpu *c, struct soft_insn *i)           	{                                                                            		uint8_t *p = tlb_hit(c, lin64(c, i), sz, ACC_W);                     		uint64_t v = c->r[i->reg];                                           		if (p)                                                               			soft_ram_store(p, sz, v);                                             		else                                                                 			soft_write(c, i->seg, soft_ea(c, i), sz, v);                 	}
LOADSTORE(4) LOADSTORE(8)

void soft_specialize(struct accel_vcpu *c, struct soft_insn *i)
{
	if (c->mode64 && i->map == 0 && (i->op == 0x89 || i->op == 0x8b) && i->mem && i->osz >= 4 &&
	    !i->lock && !i->rep) {
		i->fn = i->op == 0x8b ? (i->osz == 8 ? f_load8 : f_load4) : (i->osz == 8 ? f_store8 : f_store4);
		return;
	}
	uint8_t op = i->op;
	bool reg_form = !i->mem && i->osz >= 2 && !i->lock && !i->rep;
	if (i->map == 1) {
		if (op >= 0x80 && op <= 0x8f && !(c->mode64 && i->osz == 2)) {
			i->disp = (int64_t)soft_sext(i->imm, i->osz == 2 ? 2 : 4);
			i->fn = jcc_fn(op & 15);
		}
		return;
	}
	if (op >= 0x70 && op <= 0x7f) {
		i->disp = (int64_t)soft_sext(i->imm, 1);
		i->fn = jcc_fn(op & 15);
	} else if (op < 0x40 && ((op & 7) == 1 || (op & 7) == 3) && reg_form) {
		i->fn = alu_fn(op >> 3, i->osz, (op & 2) ? 1 : 0);
	} else if ((op == 0x81 || op == 0x83) && reg_form) {
		i->disp = (int64_t)(op == 0x83 ? soft_sext(i->imm, 1) : soft_sext(i->imm, i->osz == 2 ? 2 : 4));
		i->fn = alu_fn(i->reg & 7, i->osz, 2);
	} else if (op == 0x85 && reg_form) {
		i->fn = f_test_rr;
	} else if (op == 0xff && (i->reg & 7) < 2 && reg_form) {
		i->fn = incdec_fn(i->osz, i->reg & 1);
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
		i->fn = incdec_fn(i->osz, (op >> 3) & 1);
	}
}
