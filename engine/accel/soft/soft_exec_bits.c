/* soft_exec_bits: shifts and rotates (group 2), shld/shrd, mul/imul/div/idiv
 * (#DE on a zero divisor or an overflowing quotient), bt/bts/btr/btc (the
 * locked forms as atomic byte operations), bsf/bsr/popcnt and
 * cmpxchg8b/cmpxchg16b. */
#include "engine/accel/soft/soft_cpu.h"

void soft_exec_unary(struct accel_vcpu *c, struct soft_insn *i);

static void shifts(struct accel_vcpu *c, struct soft_insn *i)
{
	int size = (i->op & 1) ? i->osz : 1;
	unsigned n = i->op <= 0xc1 ? (unsigned)i->imm : (i->op <= 0xd1 ? 1 : (unsigned)c->r[R_CX] & 0xff);
	if (i->lock)
		soft_ud(c);
	uint64_t a = soft_rm_get(c, i, size);
	uint64_t r = soft_shift(c, i->reg & 7, size, a, n);
	if ((n & (size == 8 ? 63 : 31)) || (size == 4 && !i->mem)) /* a 32-bit register still zero-extends */
		soft_rm_set(c, i, size, r);
}

static void set_mul_flags(struct accel_vcpu *c, int size, uint64_t lo, bool wide)
{
	soft_set_szp(c, size, lo, wide ? (F_CF | F_OF) : 0);
}

static void mul(struct accel_vcpu *c, struct soft_insn *i, int size, bool sign)
{
	uint64_t b = soft_rm_get(c, i, size), a = soft_reg_get(c, i, R_AX, size);
	if (size == 8) {
		unsigned __int128 p;
		bool wide;
		if (sign) {
			__int128 s = (__int128)(int64_t)a * (int64_t)b;
			p = (unsigned __int128)s;
			wide = s != (__int128)(int64_t)(uint64_t)s;
		} else {
			p = (unsigned __int128)a * b;
			wide = (p >> 64) != 0;
		}
		c->r[R_AX] = (uint64_t)p;
		c->r[R_DX] = (uint64_t)(p >> 64);
		set_mul_flags(c, 8, (uint64_t)p, wide);
		return;
	}
	uint64_t p;
	bool wide;
	if (sign) {
		int64_t s = (int64_t)soft_sext(a, size) * (int64_t)soft_sext(b, size);
		p = (uint64_t)s;
		wide = (uint64_t)s != soft_sext(p, size);
	} else {
		p = a * b;
		wide = (p >> (size * 8)) != 0;
	}
	if (size == 1) {
		soft_reg_set(c, i, R_AX, 2, p);
	} else {
		soft_reg_set(c, i, R_AX, size, p);
		soft_reg_set(c, i, R_DX, size, p >> (size * 8));
	}
	set_mul_flags(c, size, p, wide);
}

static void divide(struct accel_vcpu *c, struct soft_insn *i, int size, bool sign)
{
	uint64_t d = soft_rm_get(c, i, size);
	if (d == 0)
		soft_raise(c, EXC_DE, false, 0);
	unsigned __int128 n;
	if (size == 1)
		n = c->r[R_AX] & 0xffff;
	else if (size == 8)
		n = ((unsigned __int128)c->r[R_DX] << 64) | c->r[R_AX];
	else
		n = ((c->r[R_DX] & soft_mask(size)) << (size * 8)) | (c->r[R_AX] & soft_mask(size));
	uint64_t q, r;
	if (sign) {
		__int128 sn;
		if (size == 8)
			sn = (__int128)n;
		else
			sn = (int64_t)soft_sext((uint64_t)n, size * 2);
		__int128 sd = (int64_t)soft_sext(d, size);
		__int128 lim = (__int128)1 << (size * 8 - 1);
		if (sd == -1 && (sn <= -lim || sn > lim))
			soft_raise(c, EXC_DE, false, 0); /* also avoids the host's own overflow */
		__int128 sq = sd == -1 ? -sn : sn / sd, sr = sd == -1 ? 0 : sn % sd;
		if (sq >= lim || sq < -lim)
			soft_raise(c, EXC_DE, false, 0);
		q = (uint64_t)sq;
		r = (uint64_t)sr;
	} else {
		unsigned __int128 uq = n / d;
		if (uq >> (size * 8))
			soft_raise(c, EXC_DE, false, 0);
		q = (uint64_t)uq;
		r = (uint64_t)(n % d);
	}
	if (size == 1) {
		soft_reg_set(c, i, R_AX, 2, (q & 0xff) | ((r & 0xff) << 8));
	} else {
		soft_reg_set(c, i, R_AX, size, q);
		soft_reg_set(c, i, R_DX, size, r);
	}
}

static void group3(struct accel_vcpu *c, struct soft_insn *i)
{
	int size = (i->op & 1) ? i->osz : 1;
	switch (i->reg & 7) {
	case 0: case 1:
		soft_alu(c, 4, size, soft_rm_get(c, i, size), soft_sext(i->imm, size == 8 ? 4 : size));
		return;
	case 2: case 3: soft_exec_unary(c, i); return;
	case 4: mul(c, i, size, false); return;
	case 5: mul(c, i, size, true); return;
	case 6: divide(c, i, size, false); return;
	default: divide(c, i, size, true); return;
	}
}

static void imul2(struct accel_vcpu *c, struct soft_insn *i, uint64_t b)
{
	int size = i->osz;
	uint64_t a = soft_rm_get(c, i, size);
	uint64_t p;
	bool wide;
	if (size == 8) {
		__int128 s = (__int128)(int64_t)a * (int64_t)b;
		p = (uint64_t)s;
		wide = s != (__int128)(int64_t)p;
	} else {
		int64_t s = (int64_t)soft_sext(a, size) * (int64_t)soft_sext(b, size);
		p = (uint64_t)s;
		wide = (uint64_t)s != soft_sext(p, size);
	}
	soft_reg_set(c, i, i->reg, size, p);
	set_mul_flags(c, size, p, wide);
}

static void set_cf(struct accel_vcpu *c, bool cf)
{
	soft_flags_materialize(c);
	c->rflags = (c->rflags & ~(uint64_t)F_CF) | (cf ? F_CF : 0);
}

/* bt/bts/btr/btc: `kind` 0 test, 1 set, 2 reset, 3 complement. */
static void bitop(struct accel_vcpu *c, struct soft_insn *i, int kind, uint64_t off, bool imm)
{
	int size = i->osz, bits = size * 8;
	if (!i->mem) {
		uint64_t v = soft_reg_get(c, i, i->rm, size), m = 1ull << (off & (bits - 1));
		set_cf(c, v & m);
		if (kind)
			soft_reg_set(c, i, i->rm, size, kind == 1 ? v | m : kind == 2 ? v & ~m : v ^ m);
		return;
	}
	int64_t byte_off = imm ? (int64_t)((off & (bits - 1)) >> 3)
			       : (((int64_t)soft_sext(off, size)) >> 3);
	if (imm)
		byte_off = (off & (bits - 1)) >> 3;
	uint8_t m = 1u << (off & 7);
	uint64_t ea = (soft_ea(c, i) + byte_off) & soft_mask(i->asz);
	if (kind == 0) {
		set_cf(c, soft_read(c, i->seg, ea, 1) & m);
		return;
	}
	uint64_t lin = soft_linear(c, i->seg, ea, 1, ACC_W);
	uint8_t *p = i->lock ? soft_translate(c, c->mode64 ? lin : (uint32_t)lin, ACC_W, c->cpl == 3) : NULL;
	uint8_t old;
	if (p) {
		old = kind == 1 ? __atomic_fetch_or(p, m, __ATOMIC_SEQ_CST)
		    : kind == 2 ? __atomic_fetch_and(p, (uint8_t)~m, __ATOMIC_SEQ_CST)
				: __atomic_fetch_xor(p, m, __ATOMIC_SEQ_CST);
	} else {
		old = soft_lin_read(c, lin, 1, ACC_R);
		soft_lin_write(c, lin, 1, kind == 1 ? old | m : kind == 2 ? old & ~m : old ^ m);
	}
	set_cf(c, old & m);
}

static void bitscan(struct accel_vcpu *c, struct soft_insn *i)
{
	uint64_t v = soft_rm_get(c, i, i->osz);
	soft_flags_materialize(c);
	if (i->op == 0xb8) {
		if (i->rep != 0xf3)
			soft_ud(c);
		int n = __builtin_popcountll(v);
		c->rflags &= ~(uint64_t)F_ARITH;
		if (!v)
			c->rflags |= F_ZF;
		soft_reg_set(c, i, i->reg, i->osz, n);
		return;
	}
	if (!v) {
		c->rflags |= F_ZF;
		return;
	}
	c->rflags &= ~(uint64_t)F_ZF;
	soft_reg_set(c, i, i->reg, i->osz, i->op == 0xbc ? __builtin_ctzll(v) : 63 - __builtin_clzll(v));
}

static void cmpxchg8b(struct accel_vcpu *c, struct soft_insn *i)
{
	if (!i->mem || (i->reg & 7) != 1)
		soft_emul_fail(c); /* rdrand, rdseed, vmptrld...: not implemented */
	int size = i->osz == 8 ? 16 : 8;
	uint64_t ea = soft_ea(c, i);
	if (size == 16 && (ea & 15))
		soft_gp(c, 0);
	uint64_t lin = soft_linear(c, i->seg, ea, size, ACC_W);
	if (!c->mode64)
		lin = (uint32_t)lin;
	bool eq;
	if (size == 8) {
		uint64_t exp = (c->r[R_DX] << 32) | (uint32_t)c->r[R_AX];
		uint64_t src = (c->r[R_CX] << 32) | (uint32_t)c->r[R_BX];
		uint8_t *p = (lin & 0xfff) <= 0xff8 ? soft_translate(c, lin, ACC_W, c->cpl == 3) : NULL;
		uint64_t old;
		if (p) {
			old = exp;
			eq = __atomic_compare_exchange_n((uint64_t *)p, &old, src, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		} else {
			old = soft_lin_read(c, lin, 8, ACC_R);
			eq = old == exp;
			soft_lin_write(c, lin, 8, eq ? src : old);
		}
		if (!eq) {
			c->r[R_AX] = (uint32_t)old;
			c->r[R_DX] = old >> 32;
		}
	} else {
		uint8_t *p = soft_translate(c, lin, ACC_W, c->cpl == 3);
		if (!p)
			soft_emul_fail(c);
		uint64_t a = c->r[R_AX], d = c->r[R_DX];
		uint8_t z;
		__asm__ volatile("lock cmpxchg16b %1; setz %0"
				 : "=q"(z), "+m"(*(unsigned __int128 *)p), "+a"(a), "+d"(d)
				 : "b"(c->r[R_BX]), "c"(c->r[R_CX])
				 : "memory", "cc");
		eq = z;
		c->r[R_AX] = a;
		c->r[R_DX] = d;
	}
	soft_flags_materialize(c);
	c->rflags = (c->rflags & ~(uint64_t)F_ZF) | (eq ? F_ZF : 0);
}

void soft_exec_bits(struct accel_vcpu *c, struct soft_insn *i)
{
	if (i->map == 0) {
		switch (i->op) {
		case 0xf6: case 0xf7: group3(c, i); return;
		case 0x69: imul2(c, i, soft_sext(i->imm, i->osz == 8 ? 4 : i->osz)); return;
		case 0x6b: imul2(c, i, soft_sext(i->imm, 1)); return;
		default: shifts(c, i); return;
		}
	}
	switch (i->op) {
	case 0xaf: {
		uint64_t b = soft_reg_get(c, i, i->reg, i->osz);
		imul2(c, i, b);
		return;
	}
	case 0xa3: bitop(c, i, 0, soft_reg_get(c, i, i->reg, i->osz), false); return;
	case 0xab: bitop(c, i, 1, soft_reg_get(c, i, i->reg, i->osz), false); return;
	case 0xb3: bitop(c, i, 2, soft_reg_get(c, i, i->reg, i->osz), false); return;
	case 0xbb: bitop(c, i, 3, soft_reg_get(c, i, i->reg, i->osz), false); return;
	case 0xba:
		if ((i->reg & 7) < 4)
			soft_ud(c);
		bitop(c, i, (i->reg & 7) - 4, i->imm, true);
		return;
	case 0xbc: case 0xbd: case 0xb8: bitscan(c, i); return;
	case 0xa4: case 0xac: case 0xa5: case 0xad: {
		unsigned n = (i->op & 1) ? (unsigned)c->r[R_CX] : (unsigned)i->imm;
		uint64_t a = soft_rm_get(c, i, i->osz);
		uint64_t r = soft_shd(c, i->op >= 0xac, i->osz, a, soft_reg_get(c, i, i->reg, i->osz), n);
		if ((n & (i->osz == 8 ? 63 : 31)) || (i->osz == 4 && !i->mem))
			soft_rm_set(c, i, i->osz, r);
		return;
	}
	case 0xc7: cmpxchg8b(c, i); return;
	}
	soft_emul_fail(c);
}
