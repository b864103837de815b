/* soft_alu: the integer operations that set flags: the eight group-1 ALU
 * operations (lazily, see soft_flags.c), and shifts, rotates and double
 * shifts, whose flags are computed at once because their rules differ by
 * count. Results come back masked to the operand size. */
#include "engine/accel/soft/soft_cpu.h"

static void lazy(struct accel_vcpu *c, enum soft_ccop op, int size, uint64_t a, uint64_t b,
		 uint64_t res)
{
	c->cc_op = op;
	c->cc_size = size;
	c->cc_a = a;
	c->cc_b = b;
	c->cc_res = res & soft_mask(size); /* kept masked: ZF is cc_res == 0 */
}

/* Group-1 operation `op` (0 add, 1 or, 2 adc, 3 sbb, 4 and, 5 sub, 6 xor,
 * 7 cmp); 8 inc, 9 dec keep CF. */
uint64_t soft_alu(struct accel_vcpu *c, int op, int size, uint64_t a, uint64_t b)
{
	uint64_t mask = soft_mask(size), res;
	bool cf;
	a &= mask;
	b &= mask;
	switch (op) {
	case 0: res = a + b; lazy(c, CC_ADD, size, a, b, res); break;
	case 1: res = a | b; lazy(c, CC_LOGIC, size, a, b, res); break;
	case 2:
		cf = soft_cf(c);
		res = a + b + cf;
		lazy(c, CC_ADC, size, a, b, res);
		c->cc_cf = cf;
		break;
	case 3:
		cf = soft_cf(c);
		res = a - b - cf;
		lazy(c, CC_SBB, size, a, b, res);
		c->cc_cf = cf;
		break;
	case 4: res = a & b; lazy(c, CC_LOGIC, size, a, b, res); break;
	case 5:
	case 7: res = a - b; lazy(c, CC_SUB, size, a, b, res); break;
	case 6: res = a ^ b; lazy(c, CC_LOGIC, size, a, b, res); break;
	case 8:
		cf = soft_cf(c);
		res = a + 1;
		lazy(c, CC_INC, size, a, 1, res);
		c->cc_cf = cf;
		break;
	default:
		cf = soft_cf(c);
		res = a - 1;
		lazy(c, CC_DEC, size, a, 1, res);
		c->cc_cf = cf;
		break;
	}
	return res & mask;
}

/* SF, ZF, PF from `res`, CF and OF as given, AF cleared. */
static void eager(struct accel_vcpu *c, int size, uint64_t res, bool cf, bool of)
{
	soft_flags_materialize(c);
	uint64_t f = c->rflags & ~(uint64_t)F_ARITH;
	uint64_t sign = 1ull << (size * 8 - 1);
	res &= soft_mask(size);
	f |= (cf ? F_CF : 0) | (of ? F_OF : 0) | (res == 0 ? F_ZF : 0) | ((res & sign) ? F_SF : 0);
	f |= (__builtin_popcount((unsigned)(res & 0xff)) & 1) ? 0 : F_PF;
	c->rflags = f;
}

void soft_set_szp(struct accel_vcpu *c, int size, uint64_t res, uint64_t keep)
{
	eager(c, size, res, keep & F_CF, keep & F_OF);
}

static void set_cf_of(struct accel_vcpu *c, bool cf, bool of)
{
	soft_flags_materialize(c);
	c->rflags = (c->rflags & ~(uint64_t)(F_CF | F_OF)) | (cf ? F_CF : 0) | (of ? F_OF : 0);
}

static uint64_t rotate_through_carry(struct accel_vcpu *c, bool left, int size, uint64_t a,
				     unsigned n)
{
	int bits = size * 8;
	uint64_t sign = 1ull << (bits - 1), mask = soft_mask(size);
	bool cf = soft_cf(c), of0 = ((a & sign) != 0) ^ cf;
	n %= bits + 1;
	for (unsigned k = 0; k < n; k++) {
		bool out;
		if (left) {
			out = a & sign;
			a = ((a << 1) | cf) & mask;
		} else {
			out = a & 1;
			a = (a >> 1) | (cf ? sign : 0);
		}
		cf = out;
	}
	bool of = left ? (((a & sign) != 0) ^ cf) : of0;
	set_cf_of(c, cf, of);
	return a;
}

/* Group-2 operation `op` (0 rol, 1 ror, 2 rcl, 3 rcr, 4 shl, 5 shr, 6 sal,
 * 7 sar) by the count as the instruction gives it. */
uint64_t soft_shift(struct accel_vcpu *c, int op, int size, uint64_t a, unsigned n)
{
	int bits = size * 8;
	uint64_t mask = soft_mask(size), sign = 1ull << (bits - 1), res;
	n &= size == 8 ? 63 : 31;
	a &= mask;
	if (n == 0)
		return a;
	switch (op) {
	case 0: {
		unsigned k = n % bits;
		res = k ? ((a << k) | (a >> (bits - k))) & mask : a;
		set_cf_of(c, res & 1, ((res & sign) != 0) ^ (res & 1));
		return res;
	}
	case 1: {
		unsigned k = n % bits;
		res = k ? ((a >> k) | (a << (bits - k))) & mask : a;
		set_cf_of(c, res & sign, ((res & sign) != 0) ^ ((res & (sign >> 1)) != 0));
		return res;
	}
	case 2: return rotate_through_carry(c, true, size, a, n);
	case 3: return rotate_through_carry(c, false, size, a, n);
	case 4:
	case 6: {
		bool cf = n <= (unsigned)bits ? (a >> (bits - n)) & 1 : 0;
		res = n < 64 ? (a << n) & mask : 0;
		eager(c, size, res, cf, ((res & sign) != 0) ^ cf);
		return res;
	}
	case 5: {
		bool cf = n <= 64 ? (a >> (n - 1)) & 1 : 0;
		res = n < 64 ? a >> n : 0;
		eager(c, size, res, cf, a & sign);
		return res;
	}
	default: {
		int64_t sa = (int64_t)soft_sext(a, size);
		unsigned k = n > 63 ? 63 : n;
		bool cf = (sa >> (k - 1)) & 1;
		res = (uint64_t)(sa >> k) & mask;
		eager(c, size, res, cf, false);
		return res;
	}
	}
}

/* shld (right=false) / shrd: a is the destination, b supplies the bits. */
uint64_t soft_shd(struct accel_vcpu *c, bool right, int size, uint64_t a, uint64_t b,
		  unsigned n)
{
	int bits = size * 8;
	uint64_t mask = soft_mask(size), sign = 1ull << (bits - 1), res;
	bool cf;
	n &= size == 8 ? 63 : 31;
	a &= mask;
	b &= mask;
	if (n == 0)
		return a;
	if (size == 2 && n > 16) {
		/* undefined result; do what hardware does: a 32-bit shift of b:a */
		uint64_t x = right ? (b << 16 | a) | ((uint64_t)a << 32) : (a << 16 | b) | ((uint64_t)a << 32);
		if (right) {
			res = (x >> n) & mask;
			cf = (x >> (n - 1)) & 1;
		} else {
			res = ((x << n) >> 16) & mask;
			cf = (x >> (32 - n)) & 1;
		}
	} else if (right) {
		res = ((a >> n) | (n < 64 ? b << (bits - n) : 0)) & mask;
		cf = (a >> (n - 1)) & 1;
	} else {
		res = ((a << n) | (b >> (bits - n))) & mask;
		cf = (a >> (bits - n)) & 1;
	}
	eager(c, size, res, cf, ((res ^ a) & sign) != 0);
	return res;
}
