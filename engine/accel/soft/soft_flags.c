/* soft_flags: lazy arithmetic flags. Flag-setting instructions record their
 * operation, operands and result (cc_op, cc_a, cc_b, cc_res); CF/PF/AF/ZF/SF/OF
 * are computed only when something reads them (jcc, setcc, adc, pushf,
 * interrupt delivery). rflags holds every other bit, and the arithmetic
 * ones too whenever cc_op is CC_NONE. */
#include "engine/accel/soft/soft_cpu.h"

static uint64_t parity(uint64_t res)
{
	return (__builtin_popcount((unsigned)(res & 0xff)) & 1) ? 0 : F_PF;
}

static uint64_t arith_flags(const struct accel_vcpu *c)
{
	int size = c->cc_size;
	uint64_t mask = soft_mask(size), sign = 1ull << (size * 8 - 1);
	uint64_t res = c->cc_res & mask, a = c->cc_a & mask, b = c->cc_b & mask;
	bool cf = false, of = false;
	uint64_t af = 0;
	switch (c->cc_op) {
	case CC_ADD:
		cf = res < a;
		of = ((a ^ res) & (b ^ res)) & sign;
		af = (a ^ b ^ res) & F_AF;
		break;
	case CC_ADC:
		cf = c->cc_cf ? res <= a : res < a;
		of = ((a ^ res) & (b ^ res)) & sign;
		af = (a ^ b ^ res) & F_AF;
		break;
	case CC_SUB:
		cf = a < b;
		of = ((a ^ b) & (a ^ res)) & sign;
		af = (a ^ b ^ res) & F_AF;
		break;
	case CC_SBB:
		cf = c->cc_cf ? a <= b : a < b;
		of = ((a ^ b) & (a ^ res)) & sign;
		af = (a ^ b ^ res) & F_AF;
		break;
	case CC_INC:
		cf = c->cc_cf;
		of = res == sign;
		af = (a ^ 1 ^ res) & F_AF;
		break;
	case CC_DEC:
		cf = c->cc_cf;
		of = a == sign;
		af = (a ^ 1 ^ res) & F_AF;
		break;
	case CC_LOGIC:
	case CC_NONE:
		break;
	}
	return (cf ? F_CF : 0) | (of ? F_OF : 0) | af | (res == 0 ? F_ZF : 0) |
	       ((res & sign) ? F_SF : 0) | parity(res);
}

void soft_flags_materialize(struct accel_vcpu *c)
{
	if (c->cc_op == CC_NONE)
		return;
	c->rflags = (c->rflags & ~(uint64_t)F_ARITH) | arith_flags(c);
	c->cc_op = CC_NONE;
}

uint64_t soft_get_flags(struct accel_vcpu *c)
{
	soft_flags_materialize(c);
	return c->rflags | 2;
}

void soft_set_flags(struct accel_vcpu *c, uint64_t f)
{
	if ((f & ~c->rflags) & F_IF)
		atomic_store_explicit(&c->work, 1, memory_order_relaxed); /* a pending interrupt may go */
	c->exit_block = true; /* TF or IF may have changed: look between instructions */
	c->rflags = f | 2;
	c->cc_op = CC_NONE;
}

bool soft_cf_slow(struct accel_vcpu *c)
{
	return arith_flags(c) & F_CF;
}

/* Condition `cc` of jcc/setcc/cmovcc (the low nibble of the opcode). */
bool soft_cond_slow(struct accel_vcpu *c, int cc)
{
	bool r;
	if (c->cc_op == CC_SUB || c->cc_op == CC_LOGIC) {
		int size = c->cc_size;
		uint64_t mask = soft_mask(size);
		uint64_t res = c->cc_res & mask;
		int64_t sa = (int64_t)soft_sext(c->cc_a, size), sb = (int64_t)soft_sext(c->cc_b, size);
		bool logic = c->cc_op == CC_LOGIC;
		switch (cc >> 1) {
		case 1: r = !logic && (c->cc_a & mask) < (c->cc_b & mask); break;
		case 2: r = res == 0; break;
		case 3: r = logic ? res == 0 : (c->cc_a & mask) <= (c->cc_b & mask); break;
		case 4: r = (int64_t)soft_sext(res, size) < 0; break;
		case 6: r = logic ? (int64_t)soft_sext(res, size) < 0 : sa < sb; break;
		case 7: r = logic ? (int64_t)soft_sext(res, size) <= 0 : sa <= sb; break;
		default: goto slow;
		}
		return r ^ (cc & 1);
	}
slow:;
	uint64_t f = soft_get_flags(c);
	switch (cc >> 1) {
	case 0: r = f & F_OF; break;
	case 1: r = f & F_CF; break;
	case 2: r = f & F_ZF; break;
	case 3: r = f & (F_CF | F_ZF); break;
	case 4: r = f & F_SF; break;
	case 5: r = f & F_PF; break;
	case 6: r = !(f & F_SF) != !(f & F_OF); break;
	default: r = (f & F_ZF) || (!(f & F_SF) != !(f & F_OF)); break;
	}
	return r ^ (cc & 1);
}
