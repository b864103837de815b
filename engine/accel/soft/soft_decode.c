/* soft_decode: x86 instruction decoding into `struct soft_insn`: prefixes,
 * REX, the opcode maps, ModRM/SIB/displacement and immediates, for 16-, 32-
 * and 64-bit code. Decoding is separate from execution (the handler pointer
 * it picks does the work) so decoded instructions can be cached later.
 * Also the operand accessors every handler uses (registers with the legacy
 * AH..BH byte registers, ModRM register-or-memory). */
#include <string.h>

#include "engine/accel/soft/soft_cpu.h"

/* One bit per opcode: it has a ModRM byte. */
static bool modrm1(uint8_t op)
{
	if (op < 0x40)
		return (op & 7) < 4;
	switch (op >> 4) {
	case 0x6: return op == 0x62 || op == 0x63 || op == 0x69 || op == 0x6b;
	case 0x8: return true;
	case 0xc: return op <= 0xc1 || (op >= 0xc4 && op <= 0xc7);
	case 0xd: return op <= 0xd3 || op >= 0xd8;
	case 0xf: return op == 0xf6 || op == 0xf7 || op == 0xfe || op == 0xff;
	default: return false;
	}
}

static bool modrm2(uint8_t op)
{
	switch (op) {
	case 0x05: case 0x06: case 0x07: case 0x08: case 0x09: case 0x0b: case 0x0e:
	case 0x30: case 0x31: case 0x32: case 0x33: case 0x34: case 0x35: case 0x37:
	case 0x77: case 0xa0: case 0xa1: case 0xa2: case 0xa8: case 0xa9: case 0xaa:
		return false;
	default:
		return !(op >= 0x80 && op <= 0x8f) && !(op >= 0xc8 && op <= 0xcf);
	}
}

/* Immediate bytes of a one-byte-map opcode; -1 for the far pointer. */
static int imm1(const struct soft_insn *i, bool mode64)
{
	uint8_t op = i->op;
	int z = i->osz == 2 ? 2 : 4;
	if (op < 0x40 && (op & 7) == 4)
		return 1;
	if (op < 0x40 && (op & 7) == 5)
		return z;
	switch (op) {
	case 0x68: case 0x69: case 0x81: case 0xa9: case 0xc7: case 0xe8: case 0xe9:
		return z;
	case 0x6a: case 0x6b: case 0x80: case 0x82: case 0x83: case 0xa8: case 0xc0:
	case 0xc1: case 0xc6: case 0xcd: case 0xd4: case 0xd5: case 0xeb:
		return 1;
	case 0xc2: case 0xca:
		return 2;
	case 0xc8:
		return 3;
	case 0x9a: case 0xea:
		return mode64 ? 0 : -1;
	case 0xa0: case 0xa1: case 0xa2: case 0xa3:
		return i->asz;
	case 0xf6:
		return i->reg < 2 ? 1 : 0;
	case 0xf7:
		return i->reg < 2 ? z : 0;
	}
	if ((op >= 0x70 && op <= 0x7f) || (op >= 0xe0 && op <= 0xe7) || (op >= 0xb0 && op <= 0xb7))
		return 1;
	if (op >= 0xb8 && op <= 0xbf)
		return i->osz;
	return 0;
}

static int imm2(const struct soft_insn *i)
{
	uint8_t op = i->op;
	if (i->map == 3)
		return 1;
	if (i->map == 2)
		return 0;
	if (op >= 0x80 && op <= 0x8f)
		return i->osz == 2 ? 2 : 4;
	switch (op) {
	case 0x70: case 0x71: case 0x72: case 0x73: case 0xa4: case 0xac: case 0xba:
	case 0xc2: case 0xc4: case 0xc5: case 0xc6:
		return 1;
	}
	return 0;
}

struct dstate {
	uint8_t buf[16];
	int n, pos;
};

static uint8_t next(struct accel_vcpu *c, struct dstate *d)
{
	if (d->pos >= 15)
		soft_gp(c, 0);
	if (d->pos >= d->n) {
		/* the bytes run into the next page: fetch it, faulting if it must */
		uint64_t lin = c->mode64 ? c->rip + d->pos : (uint32_t)(c->seg[S_CS].base + c->rip + d->pos);
		if (!c->mode64 && c->rip + d->pos > c->seg[S_CS].limit)
			soft_gp(c, 0);
		soft_translate(c, lin, ACC_X, c->cpl == 3);
		d->n = soft_fetch(c, c->rip, d->buf, 15);
		if (d->pos >= d->n)
			soft_gp(c, 0);
	}
	return d->buf[d->pos++];
}

static uint64_t next_n(struct accel_vcpu *c, struct dstate *d, int n)
{
	uint64_t v = 0;
	for (int k = 0; k < n; k++)
		v |= (uint64_t)next(c, d) << (8 * k);
	return v;
}

static void modrm16(struct accel_vcpu *c, struct dstate *d, struct soft_insn *i, uint8_t seg)
{
	static const int8_t base[8] = { R_BX, R_BX, R_BP, R_BP, R_SI, R_DI, R_BP, R_BX };
	static const int8_t index[8] = { R_SI, R_DI, R_SI, R_DI, -1, -1, -1, -1 };
	int rm = i->rm & 7;
	i->base = base[rm];
	i->index = index[rm];
	i->scale = 0;
	if (i->mod == 0 && rm == 6) {
		i->base = -1;
		i->disp = (int16_t)next_n(c, d, 2);
	} else if (i->mod == 1) {
		i->disp = (int8_t)next(c, d);
	} else if (i->mod == 2) {
		i->disp = (int16_t)next_n(c, d, 2);
	}
	i->seg = seg != S_NONE ? seg : i->base == R_BP ? S_SS : S_DS;
}

static void modrm32(struct accel_vcpu *c, struct dstate *d, struct soft_insn *i, uint8_t seg)
{
	int rm = i->rm & 7;
	i->index = -1;
	i->scale = 0;
	i->base = i->rm;
	if (rm == 4) {
		uint8_t sib = next(c, d);
		int idx = ((sib >> 3) & 7) | ((i->rex & 2) << 2);
		i->index = idx == 4 ? -1 : idx;
		i->scale = sib >> 6;
		i->base = (sib & 7) | ((i->rex & 1) << 3);
		if ((sib & 7) == 5 && i->mod == 0) {
			i->base = -1;
			i->disp = (int32_t)next_n(c, d, 4);
		}
	} else if (rm == 5 && i->mod == 0) {
		i->base = -1;
		i->riprel = c->mode64;
		i->disp = (int32_t)next_n(c, d, 4);
	}
	if (i->mod == 1)
		i->disp = (int8_t)next(c, d);
	else if (i->mod == 2)
		i->disp = (int32_t)next_n(c, d, 4);
	i->seg = seg != S_NONE ? seg : (i->base == R_SP || i->base == R_BP) ? S_SS : S_DS;
}

static void prefixes(struct accel_vcpu *c, struct dstate *d, struct soft_insn *i, uint8_t *seg,
		     uint8_t *b)
{
	bool o66 = false, a67 = false;
	for (;;) {
		*b = next(c, d);
		switch (*b) {
		case 0x66: o66 = true; i->rex = 0; continue;
		case 0x67: a67 = true; i->rex = 0; continue;
		case 0x26: case 0x2e: case 0x36: case 0x3e:
			if (!c->mode64)
				*seg = (*b >> 3) & 3;
			i->rex = 0;
			continue;
		case 0x64: *seg = S_FS; i->rex = 0; continue;
		case 0x65: *seg = S_GS; i->rex = 0; continue;
		case 0xf0: i->lock = true; i->rex = 0; continue;
		case 0xf2: case 0xf3: i->rep = *b; i->rex = 0; continue;
		}
		if (c->mode64 && (*b & 0xf0) == 0x40) {
			i->rex = *b;
			i->has_rex = true;
			continue;
		}
		break;
	}
	i->has_rex = i->rex != 0;
	i->pfx66 = o66;
	if (c->mode64) {
		i->osz = (i->rex & 8) ? 8 : o66 ? 2 : 4;
		i->asz = a67 ? 4 : 8;
	} else {
		i->osz = (c->code32 ^ o66) ? 4 : 2;
		i->asz = (c->code32 ^ a67) ? 4 : 2;
	}
}

int soft_decode(struct accel_vcpu *c, struct soft_insn *i)
{
	struct dstate d;
	uint8_t seg = S_NONE, b;
	memset(i, 0, sizeof(*i));
	d.pos = 0;
	d.n = soft_fetch(c, c->rip, d.buf, 15);
	prefixes(c, &d, i, &seg, &b);
	if (b == 0x0f) {
		b = next(c, &d);
		i->map = 1;
		if (b == 0x38 || b == 0x3a) {
			i->map = b == 0x38 ? 2 : 3;
			b = next(c, &d);
		}
	}
	i->op = b;
	bool has_modrm = i->map == 0 ? modrm1(b) : i->map == 1 ? modrm2(b) : true;
	i->base = i->index = -1;
	i->seg = seg != S_NONE ? seg : S_DS;
	if (has_modrm) {
		uint8_t m = next(c, &d);
		i->modrm = m;
		i->mod = m >> 6;
		i->reg = ((m >> 3) & 7) | ((i->rex & 4) << 1);
		i->rm = (m & 7) | ((i->rex & 1) << 3);
		if (i->mod != 3) {
			i->mem = true;
			if (i->asz == 2)
				modrm16(c, &d, i, seg);
			else
				modrm32(c, &d, i, seg);
		}
	}
	int n = i->map == 0 ? imm1(i, c->mode64) : imm2(i);
	if (n == -1) {
		i->imm = next_n(c, &d, i->osz);
		i->imm2 = next_n(c, &d, 2);
	} else if (i->map == 0 && b == 0xc8) {
		i->imm = next_n(c, &d, 2);
		i->imm2 = next(c, &d);
	} else if (n > 0) {
		i->imm = next_n(c, &d, n);
	}
	i->len = d.pos;
	memcpy(i->bytes, d.buf, d.pos);
	i->fn = i->map == 0 ? soft_op1(b) : i->map == 1 ? soft_op2(b) : soft_exec_sse;
	soft_specialize(c, i);
	return 0;
}

uint64_t soft_ea(struct accel_vcpu *c, const struct soft_insn *i)
{
	uint64_t ea = (uint64_t)i->disp;
	if (i->base >= 0)
		ea += c->r[i->base];
	if (i->index >= 0)
		ea += c->r[i->index] << i->scale;
	if (i->riprel)
		ea += c->rip; /* already advanced to the next instruction */
	return i->asz == 8 ? ea : ea & soft_mask(i->asz);
}

uint64_t soft_reg_get(struct accel_vcpu *c, const struct soft_insn *i, int r, int size)
{
	if (size == 1 && !i->has_rex && r >= 4 && r < 8)
		return (c->r[r - 4] >> 8) & 0xff;
	return c->r[r] & soft_mask(size);
}

void soft_reg_set(struct accel_vcpu *c, const struct soft_insn *i, int r, int size, uint64_t v)
{
	switch (size) {
	case 1:
		if (!i->has_rex && r >= 4 && r < 8)
			c->r[r - 4] = (c->r[r - 4] & ~0xff00ull) | ((v & 0xff) << 8);
		else
			c->r[r] = (c->r[r] & ~0xffull) | (v & 0xff);
		break;
	case 2: c->r[r] = (c->r[r] & ~0xffffull) | (v & 0xffff); break;
	case 4: c->r[r] = (uint32_t)v; break;
	default: c->r[r] = v; break;
	}
}

uint64_t soft_rm_get(struct accel_vcpu *c, const struct soft_insn *i, int size)
{
	if (!i->mem)
		return soft_reg_get(c, i, i->rm, size);
	return soft_read(c, i->seg, soft_ea(c, i), size);
}

void soft_rm_set(struct accel_vcpu *c, const struct soft_insn *i, int size, uint64_t v)
{
	if (!i->mem)
		soft_reg_set(c, i, i->rm, size, v);
	else
		soft_write(c, i->seg, soft_ea(c, i), size, v);
}
