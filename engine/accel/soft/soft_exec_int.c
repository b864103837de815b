/* soft_exec_int: the integer data instructions: the eight ALU operations in
 * all their forms, inc/dec, test, mov/movzx/movsx/movsxd, xchg, lea,
 * cmov/setcc, xadd/cmpxchg, bswap, cbw/cwd, lahf/sahf, xlat. Memory
 * read-modify-writes go through soft_rmw, which makes `lock`ed ones (and
 * xchg) host atomics so several vCPUs stay correct. */
#include <sched.h>
#include <string.h>

#include "engine/accel/soft/soft_cpu.h"

typedef uint64_t (*rmw_op)(struct accel_vcpu *c, uint64_t old, const void *ctx);

/* Read-modify-write of the ModRM operand; returns the old value. */
static uint64_t rmw(struct accel_vcpu *c, struct soft_insn *i, int size, rmw_op f,
		    const void *ctx, bool atomic)
{
	if (!i->mem) {
		uint64_t old = soft_reg_get(c, i, i->rm, size);
		soft_reg_set(c, i, i->rm, size, f(c, old, ctx));
		return old;
	}
	uint64_t lin = soft_linear(c, i->seg, soft_ea(c, i), size, ACC_W);
	if (!c->mode64)
		lin = (uint32_t)lin;
	if ((atomic || i->lock) && (lin & 0xfff) + size <= 0x1000) {
		uint8_t *p = soft_translate(c, lin, ACC_W, c->cpl == 3);
		if (p) {
			uint64_t old = 0, nv;
			switch (size) {
			case 1: {
				uint8_t o = __atomic_load_n(p, __ATOMIC_RELAXED), n;
				do {
					old = o;
					n = f(c, old, ctx);
				} while (!__atomic_compare_exchange_n(p, &o, n, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
				return old;
			}
			case 2: {
				uint16_t o = __atomic_load_n((uint16_t *)p, __ATOMIC_RELAXED), n;
				do {
					old = o;
					n = f(c, old, ctx);
				} while (!__atomic_compare_exchange_n((uint16_t *)p, &o, n, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
				return old;
			}
			case 4: {
				uint32_t o = __atomic_load_n((uint32_t *)p, __ATOMIC_RELAXED), n;
				do {
					old = o;
					n = f(c, old, ctx);
				} while (!__atomic_compare_exchange_n((uint32_t *)p, &o, n, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
				return old;
			}
			default: {
				uint64_t o = __atomic_load_n((uint64_t *)p, __ATOMIC_RELAXED);
				do {
					old = o;
					nv = f(c, old, ctx);
				} while (!__atomic_compare_exchange_n((uint64_t *)p, &o, nv, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
				return old;
			}
			}
		}
	}
	uint64_t old = soft_lin_read(c, lin, size, ACC_R);
	soft_lin_write(c, lin, size, f(c, old, ctx));
	return old;
}

struct alu_ctx {
	int op, size;
	uint64_t b;
};

static uint64_t alu_f(struct accel_vcpu *c, uint64_t old, const void *ctx)
{
	const struct alu_ctx *a = ctx;
	return soft_alu(c, a->op, a->size, old, a->b);
}

static uint64_t const_f(struct accel_vcpu *c, uint64_t old, const void *ctx)
{
	(void)c;
	(void)old;
	return *(const uint64_t *)ctx;
}

static uint64_t not_f(struct accel_vcpu *c, uint64_t old, const void *ctx)
{
	(void)c;
	(void)ctx;
	return ~old;
}

static uint64_t neg_f(struct accel_vcpu *c, uint64_t old, const void *ctx)
{
	return soft_alu(c, 5, *(const int *)ctx, 0, old);
}

/* `op` of group 1 on the ModRM operand with `b`; cmp only reads. */
static void alu_rm(struct accel_vcpu *c, struct soft_insn *i, int op, int size, uint64_t b)
{
	if (op == 7) {
		soft_alu(c, 7, size, soft_rm_get(c, i, size), b);
		return;
	}
	if (i->lock && !i->mem)
		soft_ud(c);
	struct alu_ctx a = { op, size, b };
	rmw(c, i, size, alu_f, &a, false);
}

static void alu_forms(struct accel_vcpu *c, struct soft_insn *i)
{
	int op = i->op >> 3, form = i->op & 7, size = (form & 1) ? i->osz : 1;
	uint64_t r;
	switch (form) {
	case 0:
	case 1:
		alu_rm(c, i, op, size, soft_reg_get(c, i, i->reg, size));
		return;
	case 2:
	case 3:
		if (i->lock)
			soft_ud(c);
		r = soft_alu(c, op, size, soft_reg_get(c, i, i->reg, size), soft_rm_get(c, i, size));
		if (op != 7)
			soft_reg_set(c, i, i->reg, size, r);
		return;
	default:
		if (i->lock)
			soft_ud(c);
		r = soft_alu(c, op, size, soft_reg_get(c, i, R_AX, size), soft_sext(i->imm, size == 8 ? 4 : size));
		if (op != 7)
			soft_reg_set(c, i, R_AX, size, r);
		return;
	}
}

/* fe/ff /0 /1 and group 3 f6/f7 /2 /3 (not, neg). */
void soft_exec_unary(struct accel_vcpu *c, struct soft_insn *i)
{
	int size = (i->op & 1) ? i->osz : 1;
	if (i->op == 0xfe || i->op == 0xff) {
		struct alu_ctx a = { 8 + (i->reg & 1), size, 0 };
		rmw(c, i, size, alu_f, &a, false);
	} else if ((i->reg & 7) == 2) {
		rmw(c, i, size, not_f, NULL, false);
	} else {
		rmw(c, i, size, neg_f, &size, false);
	}
}

static void mov_forms(struct accel_vcpu *c, struct soft_insn *i)
{
	uint8_t op = i->op;
	int size = (op & 1) ? i->osz : 1;
	switch (op) {
	case 0x88: case 0x89:
		soft_rm_set(c, i, size, soft_reg_get(c, i, i->reg, size));
		return;
	case 0x8a: case 0x8b:
		soft_reg_set(c, i, i->reg, size, soft_rm_get(c, i, size));
		return;
	case 0xc6: case 0xc7:
		soft_rm_set(c, i, size, soft_sext(i->imm, size == 8 ? 4 : size));
		return;
	case 0xa0: case 0xa1:
		soft_reg_set(c, i, R_AX, size, soft_read(c, i->seg, i->imm, size));
		return;
	case 0xa2: case 0xa3:
		soft_write(c, i->seg, i->imm, size, soft_reg_get(c, i, R_AX, size));
		return;
	case 0x8c:
		if ((i->reg & 7) > 5)
			soft_ud(c);
		soft_rm_set(c, i, i->mem ? 2 : i->osz, c->seg[i->reg & 7].selector);
		return;
	case 0x8d:
		if (!i->mem)
			soft_ud(c);
		soft_reg_set(c, i, i->reg, i->osz, soft_ea(c, i));
		return;
	}
	if (op >= 0xb0 && op <= 0xb7)
		soft_reg_set(c, i, (op & 7) | ((i->rex & 1) << 3), 1, i->imm);
	else
		soft_reg_set(c, i, (op & 7) | ((i->rex & 1) << 3), i->osz, i->imm);
}

static void xchg_forms(struct accel_vcpu *c, struct soft_insn *i)
{
	int size = (i->op & 1) ? i->osz : 1;
	if (i->op >= 0x90) {
		int r = (i->op & 7) | ((i->rex & 1) << 3);
		if (r == 0 && i->osz != 8) {  /* nop, pause; xchg eax,eax in 64-bit zero-extends */
			if (i->osz == 4 && c->mode64 && i->has_rex)
				c->r[0] = (uint32_t)c->r[0];
			if (i->rep == 0xf3 && (++c->pauses & 15) == 0)
				sched_yield(); /* a spin loop: let the vCPU it waits for run */
			return;
		}
		uint64_t t = soft_reg_get(c, i, R_AX, i->osz);
		soft_reg_set(c, i, R_AX, i->osz, soft_reg_get(c, i, r, i->osz));
		soft_reg_set(c, i, r, i->osz, t);
		return;
	}
	uint64_t v = soft_reg_get(c, i, i->reg, size);
	uint64_t old = rmw(c, i, size, const_f, &v, true);
	soft_reg_set(c, i, i->reg, size, old);
}

static void misc_forms(struct accel_vcpu *c, struct soft_insn *i)
{
	int size;
	switch (i->op) {
	case 0x84: case 0x85:
		size = (i->op & 1) ? i->osz : 1;
		soft_alu(c, 4, size, soft_rm_get(c, i, size), soft_reg_get(c, i, i->reg, size));
		return;
	case 0xa8: case 0xa9:
		size = (i->op & 1) ? i->osz : 1;
		soft_alu(c, 4, size, soft_reg_get(c, i, R_AX, size), soft_sext(i->imm, size == 8 ? 4 : size));
		return;
	case 0x98:
		soft_reg_set(c, i, R_AX, i->osz, soft_sext(c->r[0], i->osz / 2));
		return;
	case 0x99: {
		uint64_t a = soft_reg_get(c, i, R_AX, i->osz);
		bool neg = a >> (i->osz * 8 - 1);
		soft_reg_set(c, i, R_DX, i->osz, neg ? ~0ull : 0);
		return;
	}
	case 0x9e:
		soft_flags_materialize(c);
		c->rflags = (c->rflags & ~0xd5ull) | ((c->r[0] >> 8) & 0xd5);
		return;
	case 0x9f:
		soft_reg_set(c, i, 4, 1, (soft_get_flags(c) & 0xd5) | 2);
		return;
	case 0xd7: {
		uint64_t off = (c->r[R_BX] + (c->r[0] & 0xff)) & soft_mask(i->asz);
		soft_reg_set(c, i, R_AX, 1, soft_read(c, i->seg, off, 1));
		return;
	}
	case 0x63:
		if (!c->mode64)
			soft_emul_fail(c); /* arpl */
		soft_reg_set(c, i, i->reg, i->osz, soft_sext(soft_rm_get(c, i, 4), 4));
		return;
	}
	if (i->op >= 0x40 && i->op <= 0x4f) {
		int r = i->op & 7;
		soft_reg_set(c, i, r, i->osz, soft_alu(c, 8 + ((i->op >> 3) & 1), i->osz, c->r[r], 0));
		return;
	}
	soft_emul_fail(c);
}

void soft_exec_int(struct accel_vcpu *c, struct soft_insn *i)
{
	uint8_t op = i->op;
	if (op < 0x40 && (op & 7) < 6) {
		alu_forms(c, i);
	} else if (op >= 0x80 && op <= 0x83) {
		if (op == 0x82 && c->mode64)
			soft_ud(c);
		int size = (op & 1) ? i->osz : 1;
		uint64_t b = op == 0x81 ? soft_sext(i->imm, size == 8 ? 4 : size) : soft_sext(i->imm, 1);
		alu_rm(c, i, i->reg & 7, size, b);
	} else if ((op >= 0x88 && op <= 0x8d && op != 0x8c) || op == 0xc6 || op == 0xc7 ||
		   (op >= 0xa0 && op <= 0xa3) || (op >= 0xb0 && op <= 0xbf)) {
		if (i->lock)
			soft_ud(c);
		mov_forms(c, i);
	} else if (op == 0x8c) {
		mov_forms(c, i);
	} else if (op == 0x86 || op == 0x87 || (op >= 0x90 && op <= 0x97)) {
		xchg_forms(c, i);
	} else {
		misc_forms(c, i);
	}
}

struct cx_ctx {
	int size;
	uint64_t expect, src;
	bool *eq;
};

static uint64_t cmpxchg_f(struct accel_vcpu *c, uint64_t old, const void *ctx)
{
	const struct cx_ctx *x = ctx;
	soft_alu(c, 7, x->size, x->expect, old);
	*x->eq = (old & soft_mask(x->size)) == (x->expect & soft_mask(x->size));
	return *x->eq ? x->src : old; /* a failed compare writes the old value back */
}

static uint64_t xadd_f(struct accel_vcpu *c, uint64_t old, const void *ctx)
{
	const struct alu_ctx *a = ctx;
	return soft_alu(c, 0, a->size, old, a->b);
}

/* Two-byte-map integer data instructions. */
void soft_exec_int2(struct accel_vcpu *c, struct soft_insn *i)
{
	uint8_t op = i->op;
	int size = (op & 1) ? i->osz : 1;
	if (op >= 0x40 && op <= 0x4f) {
		uint64_t v = soft_rm_get(c, i, i->osz);
		if (soft_cond(c, op & 15))
			soft_reg_set(c, i, i->reg, i->osz, v);
		else if (i->osz == 4)
			c->r[i->reg] = (uint32_t)c->r[i->reg];
		return;
	}
	if (op >= 0x90 && op <= 0x9f) {
		soft_rm_set(c, i, 1, soft_cond(c, op & 15));
		return;
	}
	if (op >= 0xc8 && op <= 0xcf) {
		int r = (op & 7) | ((i->rex & 1) << 3);
		if (i->osz == 8)
			c->r[r] = __builtin_bswap64(c->r[r]);
		else if (i->osz == 4)
			c->r[r] = __builtin_bswap32((uint32_t)c->r[r]);
		else
			soft_reg_set(c, i, r, 2, 0); /* undefined; hardware gives 0 */
		return;
	}
	switch (op) {
	case 0xb6: case 0xb7:
		soft_reg_set(c, i, i->reg, i->osz, soft_rm_get(c, i, op == 0xb6 ? 1 : 2));
		return;
	case 0xbe: case 0xbf: {
		int s = op == 0xbe ? 1 : 2;
		soft_reg_set(c, i, i->reg, i->osz, soft_sext(soft_rm_get(c, i, s), s));
		return;
	}
	case 0xb0: case 0xb1: {
		bool eq = false;
		struct cx_ctx x = { size, soft_reg_get(c, i, R_AX, size), soft_reg_get(c, i, i->reg, size), &eq };
		uint64_t old = rmw(c, i, size, cmpxchg_f, &x, false);
		if (!eq)
			soft_reg_set(c, i, R_AX, size, old);
		return;
	}
	case 0xc0: case 0xc1: {
		struct alu_ctx a = { 0, size, soft_reg_get(c, i, i->reg, size) };
		uint64_t old = rmw(c, i, size, xadd_f, &a, false);
		if (i->mem || i->rm != i->reg) /* xadd r, r: the sum wins */
			soft_reg_set(c, i, i->reg, size, old);
		return;
	}
	}
	soft_emul_fail(c);
}
