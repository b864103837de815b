/* soft_simd: the SSE2 integer instructions on XMM registers (the 66-prefixed
 * forms) that C libraries' string and memory functions are made of: add/sub
 * (wrapping and saturating), compares, min/max/avg, multiplies, logic shifts
 * by immediate or register, byte shifts, unpacks and packs, pshufd/pshufhw/
 * pshuflw/shufps, pmovmskb/movmskps/movmskpd, pextrw/pinsrw, and the
 * movlps/movhps family. Lanes are worked on as little-endian byte arrays. The
 * MMX forms (no 66 prefix) are not here: emulation failure. */
#include <string.h>

#include "engine/accel/soft/soft_cpu.h"

#define FX_XMM 160

static uint8_t *xr(struct accel_vcpu *c, int n)
{
	return c->fx + FX_XMM + 16 * n;
}

static uint64_t lane(const uint8_t *v, int sz, int k)
{
	uint64_t x = 0;
	memcpy(&x, v + k * sz, sz);
	return x;
}

static void setlane(uint8_t *v, int sz, int k, uint64_t x)
{
	memcpy(v + k * sz, &x, sz);
}

static int64_t slane(const uint8_t *v, int sz, int k)
{
	return (int64_t)soft_sext(lane(v, sz, k), sz);
}

/* The source operand: an XMM register or 16 (or `len`) bytes of memory. */
static void source(struct accel_vcpu *c, struct soft_insn *i, uint8_t *v, int len, bool aligned)
{
	memset(v, 0, 16);
	if (!i->mem) {
		memcpy(v, xr(c, i->rm), len);
		return;
	}
	uint64_t ea = soft_ea(c, i);
	if (aligned && (ea & 15))
		soft_gp(c, 0);
	for (int k = 0; k < len; k += 8) {
		uint64_t x = soft_read(c, i->seg, (ea + k) & soft_mask(i->asz), len - k < 8 ? len - k : 8);
		memcpy(v + k, &x, len - k < 8 ? len - k : 8);
	}
}

static int64_t sat(int64_t x, int sz, bool is_signed)
{
	int64_t lo = is_signed ? -(1ll << (sz * 8 - 1)) : 0;
	int64_t hi = is_signed ? (1ll << (sz * 8 - 1)) - 1 : (1ll << (sz * 8)) - 1;
	return x < lo ? lo : x > hi ? hi : x;
}

/* Lane-wise binary operations: returns false if `op` is not one. */
static bool lanewise(uint8_t op, uint8_t *a, const uint8_t *b)
{
	static const struct { uint8_t op, sz, kind; } ops[] = {
		/* kind: 0 add, 1 sub, 2 adds, 3 addus, 4 subs, 5 subus, 6 cmpeq, 7 cmpgt,
		 * 8 minu, 9 maxu, 10 mins, 11 maxs, 12 avg, 13 mullo, 14 mulhi, 15 mulhu */
		{ 0xfc, 1, 0 }, { 0xfd, 2, 0 }, { 0xfe, 4, 0 }, { 0xd4, 8, 0 },
		{ 0xf8, 1, 1 }, { 0xf9, 2, 1 }, { 0xfa, 4, 1 }, { 0xfb, 8, 1 },
		{ 0xec, 1, 2 }, { 0xed, 2, 2 }, { 0xdc, 1, 3 }, { 0xdd, 2, 3 },
		{ 0xe8, 1, 4 }, { 0xe9, 2, 4 }, { 0xd8, 1, 5 }, { 0xd9, 2, 5 },
		{ 0x74, 1, 6 }, { 0x75, 2, 6 }, { 0x76, 4, 6 },
		{ 0x64, 1, 7 }, { 0x65, 2, 7 }, { 0x66, 4, 7 },
		{ 0xda, 1, 8 }, { 0xde, 1, 9 }, { 0xea, 2, 10 }, { 0xee, 2, 11 },
		{ 0xe0, 1, 12 }, { 0xe3, 2, 12 }, { 0xd5, 2, 13 }, { 0xe5, 2, 14 }, { 0xe4, 2, 15 },
	};
	for (unsigned n = 0; n < sizeof(ops) / sizeof(ops[0]); n++) {
		if (ops[n].op != op)
			continue;
		int sz = ops[n].sz;
		uint64_t mask = soft_mask(sz);
		for (int k = 0; k < 16 / sz; k++) {
			uint64_t x = lane(a, sz, k), y = lane(b, sz, k), r;
			int64_t sx = slane(a, sz, k), sy = slane(b, sz, k);
			switch (ops[n].kind) {
			case 0: r = x + y; break;
			case 1: r = x - y; break;
			case 2: r = sat(sx + sy, sz, true); break;
			case 3: r = sat((int64_t)(x + y), sz, false); break;
			case 4: r = sat(sx - sy, sz, true); break;
			case 5: r = sat((int64_t)x - (int64_t)y, sz, false); break;
			case 6: r = x == y ? mask : 0; break;
			case 7: r = sx > sy ? mask : 0; break;
			case 8: r = x < y ? x : y; break;
			case 9: r = x > y ? x : y; break;
			case 10: r = sx < sy ? sx : sy; break;
			case 11: r = sx > sy ? sx : sy; break;
			case 12: r = (x + y + 1) >> 1; break;
			case 13: r = sx * sy; break;
			case 14: r = (uint64_t)(sx * sy) >> 16; break;
			default: r = (x * y) >> 16; break;
			}
			setlane(a, sz, k, r & mask);
		}
		return true;
	}
	return false;
}

/* Shift each lane of `a` by `n`: kind 2 logical right, 4 arithmetic right,
 * 6 left (the group's ModRM reg values). */
static void shift_lanes(uint8_t *a, int sz, int kind, uint64_t n)
{
	int bits = sz * 8;
	for (int k = 0; k < 16 / sz; k++) {
		uint64_t x = lane(a, sz, k), r;
		if (kind == 4)
			r = (uint64_t)(slane(a, sz, k) >> (n >= (uint64_t)bits ? bits - 1 : (int)n));
		else if (n >= (uint64_t)bits)
			r = 0;
		else
			r = kind == 2 ? x >> n : x << n;
		setlane(a, sz, k, r & soft_mask(sz));
	}
}

static void byte_shift(uint8_t *a, bool left, unsigned n)
{
	uint8_t t[16] = { 0 };
	if (n < 16) {
		if (left)
			memcpy(t + n, a, 16 - n);
		else
			memcpy(t, a + n, 16 - n);
	}
	memcpy(a, t, 16);
}

static void unpack(uint8_t *a, const uint8_t *b, int sz, bool high)
{
	uint8_t t[16];
	int n = 8 / sz, base = high ? n : 0;
	for (int k = 0; k < n; k++) {
		setlane(t, sz, 2 * k, lane(a, sz, base + k));
		setlane(t, sz, 2 * k + 1, lane(b, sz, base + k));
	}
	memcpy(a, t, 16);
}

static void pack(uint8_t *a, const uint8_t *b, int sz, bool is_signed)
{
	uint8_t t[16];
	int n = 16 / sz, half = sz / 2;
	for (int k = 0; k < n; k++) {
		setlane(t, half, k, (uint64_t)sat(slane(a, sz, k), half, is_signed));
		setlane(t, half, n + k, (uint64_t)sat(slane(b, sz, k), half, is_signed));
	}
	memcpy(a, t, 16);
}

static void shuffles(struct accel_vcpu *c, struct soft_insn *i, uint8_t *d, const uint8_t *s)
{
	uint8_t t[16];
	unsigned imm = i->imm & 0xff;
	if (i->op == 0xc6) { /* shufps, shufpd */
		if (i->pfx66) {
			setlane(t, 8, 0, lane(d, 8, imm & 1));
			setlane(t, 8, 1, lane(s, 8, (imm >> 1) & 1));
		} else {
			for (int k = 0; k < 4; k++)
				setlane(t, 4, k, lane(k < 2 ? d : s, 4, (imm >> (2 * k)) & 3));
		}
	} else if (i->pfx66) { /* pshufd */
		for (int k = 0; k < 4; k++)
			setlane(t, 4, k, lane(s, 4, (imm >> (2 * k)) & 3));
	} else { /* pshufhw (f3), pshuflw (f2) */
		int base = i->rep == 0xf3 ? 4 : 0;
		memcpy(t, s, 16);
		for (int k = 0; k < 4; k++)
			setlane(t, 2, base + k, lane(s, 2, base + ((imm >> (2 * k)) & 3)));
	}
	(void)c;
	memcpy(d, t, 16);
}

static bool moves(struct accel_vcpu *c, struct soft_insn *i)
{
	uint8_t *d = xr(c, i->reg), v[16];
	uint64_t x;
	switch (i->op) {
	case 0x12: case 0x16: /* movlps/movlpd, movhps/movhpd; movhlps, movlhps */
		if (i->mem) {
			x = soft_read(c, i->seg, soft_ea(c, i), 8);
			memcpy(d + (i->op == 0x16 ? 8 : 0), &x, 8);
		} else {
			memcpy(v, xr(c, i->rm), 16);
			if (i->op == 0x12)
				memcpy(d, v + 8, 8);
			else
				memcpy(d + 8, v, 8);
		}
		return true;
	case 0x13: case 0x17:
		if (!i->mem)
			soft_ud(c);
		memcpy(&x, d + (i->op == 0x17 ? 8 : 0), 8);
		soft_write(c, i->seg, soft_ea(c, i), 8, x);
		return true;
	case 0x50: { /* movmskps, movmskpd */
		int sz = i->pfx66 ? 8 : 4;
		uint64_t m = 0;
		for (int k = 0; k < 16 / sz; k++)
			m |= (lane(xr(c, i->rm), sz, k) >> (sz * 8 - 1)) << k;
		soft_reg_set(c, i, i->reg, 4, m);
		return true;
	}
	}
	return false;
}

/* Returns false if this is not one of ours (the caller fails emulation). */
bool soft_simd(struct accel_vcpu *c, struct soft_insn *i)
{
	uint8_t op = i->op, s[16];
	if ((c->cr0 & CR0_EM) || !(c->cr4 & CR4_OSFXSR))
		soft_ud(c);
	if (c->cr0 & CR0_TS)
		soft_raise(c, EXC_NM, false, 0);
	if (moves(c, i))
		return true;
	uint8_t *d = xr(c, i->reg);
	if (op == 0x14 || op == 0x15) { /* unpcklps/unpckhps, unpcklpd/unpckhpd */
		source(c, i, s, 16, true);
		unpack(d, s, i->pfx66 ? 8 : 4, op == 0x15);
		return true;
	}
	if (op == 0xc6 || (op == 0x70 && (i->pfx66 || i->rep))) {
		source(c, i, s, 16, true);
		shuffles(c, i, d, s);
		return true;
	}
	if (!i->pfx66)
		return false; /* MMX forms */
	if (op >= 0x71 && op <= 0x73) { /* shifts by immediate of the rm register */
		uint8_t *r = xr(c, i->rm);
		int g = i->reg & 7, sz = op == 0x71 ? 2 : op == 0x72 ? 4 : 8;
		if (i->mem)
			soft_ud(c);
		if (op == 0x73 && (g == 3 || g == 7))
			byte_shift(r, g == 7, i->imm & 0xff);
		else if (g == 2 || g == 6 || (g == 4 && op != 0x73))
			shift_lanes(r, sz, g, i->imm & 0xff);
		else
			soft_ud(c);
		return true;
	}
	if (op == 0xd7) { /* pmovmskb */
		uint64_t m = 0;
		for (int k = 0; k < 16; k++)
			m |= (uint64_t)(xr(c, i->rm)[k] >> 7) << k;
		soft_reg_set(c, i, i->reg, 4, m);
		return true;
	}
	if (op == 0xc5) { /* pextrw */
		if (i->mem)
			soft_ud(c);
		soft_reg_set(c, i, i->reg, 4, lane(xr(c, i->rm), 2, i->imm & 7));
		return true;
	}
	if (op == 0xc4) { /* pinsrw */
		setlane(d, 2, i->imm & 7, soft_rm_get(c, i, 2));
		return true;
	}
	source(c, i, s, 16, true);
	if (lanewise(op, d, s))
		return true;
	switch (op) {
	case 0xd1: case 0xd2: case 0xd3: case 0xe1: case 0xe2: case 0xf1: case 0xf2: case 0xf3: {
		int sz = 2 << ((op & 3) - 1);
		int kind = (op >> 4) == 0xd ? 2 : (op >> 4) == 0xe ? 4 : 6;
		shift_lanes(d, sz, kind, lane(s, 8, 0));
		return true;
	}
	case 0x60: case 0x61: case 0x62: case 0x6c:
		unpack(d, s, op == 0x6c ? 8 : 1 << (op - 0x60), false);
		return true;
	case 0x68: case 0x69: case 0x6a: case 0x6d:
		unpack(d, s, op == 0x6d ? 8 : 1 << (op - 0x68), true);
		return true;
	case 0x63: pack(d, s, 2, true); return true;
	case 0x67: pack(d, s, 2, false); return true;
	case 0x6b: pack(d, s, 4, true); return true;
	case 0xf4: /* pmuludq */
		setlane(d, 8, 0, lane(d, 4, 0) * lane(s, 4, 0));
		setlane(d, 8, 1, lane(d, 4, 2) * lane(s, 4, 2));
		return true;
	case 0xf5: /* pmaddwd */
		for (int k = 0; k < 4; k++)
			setlane(d, 4, k, (uint64_t)(slane(d, 2, 2 * k) * slane(s, 2, 2 * k) +
						    slane(d, 2, 2 * k + 1) * slane(s, 2, 2 * k + 1)));
		return true;
	case 0xf6: /* psadbw */
		for (int h = 0; h < 2; h++) {
			uint64_t sum = 0;
			for (int k = 0; k < 8; k++) {
				int x = d[8 * h + k], y = s[8 * h + k];
				sum += x > y ? x - y : y - x;
			}
			setlane(d, 8, h, sum);
		}
		return true;
	}
	return false;
}
