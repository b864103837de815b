/* soft_sse: the floating-point and vector state and the few instructions on
 * it the soft CPU implements: x87 control (fninit, fnstcw, fldcw, fnstsw,
 * fnclex, fwait), fxsave/fxrstor, xsave/xrstor/xgetbv/xsetbv (x87 and SSE
 * components, standard layout), ldmxcsr/stmxcsr, fences, clflush, and SSE
 * moves and logic (movaps/movups/movdqa/movdqu/movq/movd/movss/movsd,
 * pxor/xorps/andps/orps, movnti) and the MMX movd/movq. All of it lives in the FXSAVE image c->fx.
 * Anything else is an emulation failure, never a wrong result. */
#include <string.h>

#include "engine/accel/soft/soft_cpu.h"

#define FX_FCW 0
#define FX_FSW 2
#define FX_FTW 4
#define FX_MXCSR 24
#define FX_XMM 160

static uint8_t *xmm(struct accel_vcpu *c, int n)
{
	return c->fx + FX_XMM + 16 * n;
}

static void need_sse(struct accel_vcpu *c)
{
	if ((c->cr0 & CR0_EM) || !(c->cr4 & CR4_OSFXSR))
		soft_ud(c);
	if (c->cr0 & CR0_TS)
		soft_raise(c, EXC_NM, false, 0);
}

static void need_fpu(struct accel_vcpu *c)
{
	if (c->cr0 & (CR0_EM | CR0_TS))
		soft_raise(c, EXC_NM, false, 0);
}

static void mem_block(struct accel_vcpu *c, struct soft_insn *i, uint64_t off, uint8_t *buf,
		      int len, bool store)
{
	uint64_t ea = soft_ea(c, i) + off;
	for (int k = 0; k < len; k += 8) {
		uint64_t a = (ea + k) & soft_mask(i->asz);
		int n = len - k < 8 ? len - k : 8;
		uint64_t v = 0;
		if (store) {
			memcpy(&v, buf + k, n);
			soft_write(c, i->seg, a, n, v);
		} else {
			v = soft_read(c, i->seg, a, n);
			memcpy(buf + k, &v, n);
		}
	}
}

static void fx_init_x87(struct accel_vcpu *c)
{
	memset(c->fx, 0, 24);
	memset(c->fx + 32, 0, 128);
	c->fx[FX_FCW] = 0x7f;
	c->fx[FX_FCW + 1] = 0x03;
}

static void xsave_like(struct accel_vcpu *c, struct soft_insn *i, int kind)
{
	uint64_t ea = soft_ea(c, i);
	if (kind < 2) { /* fxsave, fxrstor */
		need_fpu(c);
		if (ea & 15)
			soft_gp(c, 0);
		uint8_t buf[512];
		if (kind == 0) {
			memcpy(buf, c->fx, 512);
			mem_block(c, i, 0, buf, 512, true);
		} else {
			mem_block(c, i, 0, buf, 512, false);
			uint32_t mx;
			memcpy(&mx, buf + FX_MXCSR, 4);
			if (mx & 0xffff0000u)
				soft_gp(c, 0);
			memcpy(c->fx, buf, 160 + 16 * (c->mode64 ? 16 : 8));
		}
		return;
	}
	if (!(c->cr4 & CR4_OSXSAVE))
		soft_ud(c);
	need_fpu(c);
	if (ea & 63)
		soft_gp(c, 0);
	uint64_t rfbm = ((c->r[R_DX] << 32) | (uint32_t)c->r[R_AX]) & c->xcr0;
	uint8_t buf[576];
	mem_block(c, i, 0, buf, 576, false);
	uint64_t bv;
	memcpy(&bv, buf + 512, 8);
	if (kind == 2) { /* xsave */
		if (rfbm & 1)
			memcpy(buf, c->fx, 160), memcpy(buf + FX_MXCSR, c->fx + FX_MXCSR, 8);
		if (rfbm & 2) {
			memcpy(buf + FX_MXCSR, c->fx + FX_MXCSR, 8);
			memcpy(buf + FX_XMM, c->fx + FX_XMM, 256);
		}
		bv = (bv & ~rfbm) | rfbm;
		memcpy(buf + 512, &bv, 8);
		mem_block(c, i, 0, buf, 576, true);
		return;
	}
	if (bv & ~c->xcr0)
		soft_gp(c, 0);
	if (rfbm & 1) {
		uint8_t mx[8];
		memcpy(mx, c->fx + FX_MXCSR, 8);
		if (bv & 1)
			memcpy(c->fx, buf, 160);
		else
			fx_init_x87(c);
		memcpy(c->fx + FX_MXCSR, mx, 8);
	}
	if (rfbm & 2) {
		if (bv & 2) {
			memcpy(c->fx + FX_MXCSR, buf + FX_MXCSR, 4);
			memcpy(c->fx + FX_XMM, buf + FX_XMM, 256);
		} else {
			memset(c->fx + FX_XMM, 0, 256);
		}
	}
}

static void group15(struct accel_vcpu *c, struct soft_insn *i)
{
	int r = i->reg & 7;
	if (!i->mem) {
		if (r >= 5)
			return; /* lfence, mfence, sfence: the host keeps order */
		soft_emul_fail(c); /* rdfsbase & co. */
	}
	uint32_t mx;
	switch (r) {
	case 0: xsave_like(c, i, 0); return;
	case 1: xsave_like(c, i, 1); return;
	case 2:
		need_sse(c);
		mx = soft_read(c, i->seg, soft_ea(c, i), 4);
		if (mx & 0xffff0000u)
			soft_gp(c, 0);
		memcpy(c->fx + FX_MXCSR, &mx, 4);
		return;
	case 3:
		need_sse(c);
		memcpy(&mx, c->fx + FX_MXCSR, 4);
		soft_write(c, i->seg, soft_ea(c, i), 4, mx);
		return;
	case 4: xsave_like(c, i, 2); return;
	case 5: xsave_like(c, i, 3); return;
	default: soft_read(c, i->seg, soft_ea(c, i), 1); return; /* clflush */
	}
}

/* Load or store 8/16 bytes of the ModRM operand (an XMM register or memory). */
static void rm_xmm(struct accel_vcpu *c, struct soft_insn *i, uint8_t *v, int len, bool store,
		   bool aligned)
{
	if (!i->mem) {
		if (store)
			memcpy(xmm(c, i->rm), v, len);
		else
			memcpy(v, xmm(c, i->rm), len);
		return;
	}
	if (aligned && (soft_ea(c, i) & 15))
		soft_gp(c, 0);
	mem_block(c, i, 0, v, len, store);
}

/* MMX register n: the low 64 bits of x87 register n. Writing one marks the
 * x87 stack all valid with TOP 0 and the exponent all ones, as MMX does. */
static void mmx_set(struct accel_vcpu *c, int n, uint64_t v)
{
	uint8_t *st = c->fx + 32 + 16 * n;
	memcpy(st, &v, 8);
	st[8] = st[9] = 0xff;
	c->fx[FX_FTW] = 0xff;
	c->fx[FX_FSW + 1] &= ~0x38;
}

static uint64_t mmx_get(struct accel_vcpu *c, int n)
{
	uint64_t v;
	memcpy(&v, c->fx + 32 + 16 * n, 8);
	c->fx[FX_FTW] = 0xff;
	c->fx[FX_FSW + 1] &= ~0x38;
	return v;
}

/* movd/movq between MMX registers, general registers and memory. */
static bool mmx_moves(struct accel_vcpu *c, struct soft_insn *i)
{
	int sz = i->osz == 8 ? 8 : 4;
	switch (i->op) {
	case 0x6e: need_fpu(c); mmx_set(c, i->reg & 7, soft_rm_get(c, i, sz)); return true;
	case 0x7e: need_fpu(c); soft_rm_set(c, i, sz, mmx_get(c, i->reg & 7)); return true;
	case 0x6f:
		need_fpu(c);
		mmx_set(c, i->reg & 7, i->mem ? soft_read(c, i->seg, soft_ea(c, i), 8) : mmx_get(c, i->rm & 7));
		return true;
	case 0x7f:
		need_fpu(c);
		if (i->mem)
			soft_write(c, i->seg, soft_ea(c, i), 8, mmx_get(c, i->reg & 7));
		else
			mmx_set(c, i->rm & 7, mmx_get(c, i->reg & 7));
		return true;
	}
	return false;
}

static void sse_ops(struct accel_vcpu *c, struct soft_insn *i)
{
	if (!i->pfx66 && !i->rep && (i->op == 0x6e || i->op == 0x7e || i->op == 0x6f || i->op == 0x7f)) {
		if (c->cr0 & CR0_EM)
			soft_ud(c);
		mmx_moves(c, i);
		return;
	}
	uint8_t v[16] = { 0 }, w[16];
	uint8_t op = i->op;
	bool p66 = i->pfx66, f3 = i->rep == 0xf3, f2 = i->rep == 0xf2;
	need_sse(c);
	switch (op) {
	case 0x10: case 0x11: {
		int len = f3 ? 4 : f2 ? 8 : 16;
		if (op == 0x10) {
			rm_xmm(c, i, v, len, false, false);
			if (len < 16 && !i->mem)
				memcpy(v + len, xmm(c, i->reg) + len, 16 - len);
			memcpy(xmm(c, i->reg), v, 16);
		} else {
			memcpy(v, xmm(c, i->reg), len);
			if (len < 16 && !i->mem) {
				memcpy(xmm(c, i->rm), v, len);
				return;
			}
			rm_xmm(c, i, v, len, true, false);
		}
		return;
	}
	case 0x28: case 0x6f:
		if (op == 0x6f && !p66 && !f3)
			soft_emul_fail(c); /* MMX */
		rm_xmm(c, i, v, 16, false, op == 0x28 || p66);
		memcpy(xmm(c, i->reg), v, 16);
		return;
	case 0x29: case 0x7f: case 0x2b: case 0xe7:
		if ((op == 0x7f || op == 0xe7) && !p66 && !f3)
			soft_emul_fail(c);
		memcpy(v, xmm(c, i->reg), 16);
		rm_xmm(c, i, v, 16, true, op != 0x7f || p66);
		return;
	case 0x6e:
		if (!p66)
			soft_emul_fail(c);
		{
			uint64_t x = soft_rm_get(c, i, i->osz == 8 ? 8 : 4);
			memcpy(v, &x, 8);
			memcpy(xmm(c, i->reg), v, 16);
		}
		return;
	case 0x7e:
		if (f3) { /* movq xmm, xmm/m64 */
			rm_xmm(c, i, v, 8, false, false);
			memset(v + 8, 0, 8);
			memcpy(xmm(c, i->reg), v, 16);
			return;
		}
		if (!p66)
			soft_emul_fail(c);
		{
			uint64_t x;
			memcpy(&x, xmm(c, i->reg), 8);
			soft_rm_set(c, i, i->osz == 8 ? 8 : 4, x);
		}
		return;
	case 0xd6:
		if (!p66)
			soft_emul_fail(c);
		memcpy(v, xmm(c, i->reg), 8);
		if (!i->mem)
			memset(v + 8, 0, 8);
		rm_xmm(c, i, v, i->mem ? 8 : 16, true, false);
		return;
	case 0x54: case 0x55: case 0x56: case 0x57: case 0xef: case 0xdb: case 0xeb: case 0xdf:
		if ((op >= 0xdb) && !p66)
			soft_emul_fail(c);
		rm_xmm(c, i, v, 16, false, true);
		memcpy(w, xmm(c, i->reg), 16);
		for (int k = 0; k < 16; k++) {
			switch (op) {
			case 0x54: case 0xdb: w[k] &= v[k]; break;
			case 0x55: case 0xdf: w[k] = ~w[k] & v[k]; break;
			case 0x56: case 0xeb: w[k] |= v[k]; break;
			default: w[k] ^= v[k]; break;
			}
		}
		memcpy(xmm(c, i->reg), w, 16);
		return;
	}
	soft_emul_fail(c);
}

/* The opcodes soft_ssefp.c does (floating-point arithmetic, conversions). */
static bool fp_op(uint8_t op)
{
	return op == 0x2a || (op >= 0x2c && op <= 0x2f) || op == 0x51 || (op >= 0x58 && op <= 0x5f) ||
	       op == 0xc2 || op == 0xe6;
}

/* The opcodes soft_simd.c does (SSE2 integer, shuffles, movlps & co.). */
static bool simd_op(uint8_t op)
{
	switch (op) {
	case 0x12: case 0x13: case 0x14: case 0x15: case 0x16: case 0x17: case 0x50:
	case 0xc4: case 0xc5: case 0xc6: case 0xd7:
		return true;
	case 0x6e: case 0x6f: case 0xdb: case 0xdf: case 0xeb: case 0xef: case 0xe7: case 0xd6:
	case 0xd0: case 0xe6: case 0xf0: case 0xf7: case 0xff:
		return false;
	}
	return (op >= 0x60 && op <= 0x76) || (op >= 0xd1 && op <= 0xfe);
}

void soft_exec_sse(struct accel_vcpu *c, struct soft_insn *i)
{
	if (i->map == 2 && i->op == 0x82 && i->pfx66)
		soft_ud(c); /* invpcid: not on this CPU (no PCID in CPUID) */
	if (i->map != 1)
		soft_emul_fail(c);
	if (i->op == 0xae) {
		group15(c, i);
		return;
	}
	if (i->op == 0xc3) { /* movnti */
		if (!i->mem)
			soft_ud(c);
		soft_rm_set(c, i, i->osz, soft_reg_get(c, i, i->reg, i->osz));
		return;
	}
	if (fp_op(i->op)) {
		if (!soft_ssefp(c, i))
			soft_emul_fail(c);
		return;
	}
	if (simd_op(i->op)) {
		if (!soft_simd(c, i))
			soft_emul_fail(c);
		return;
	}
	if (i->op == 0x77) { /* emms */
		need_fpu(c);
		c->fx[FX_FTW] = 0;
		return;
	}
	sse_ops(c, i);
}

void soft_exec_x87(struct accel_vcpu *c, struct soft_insn *i)
{
	if (i->op == 0x9b) { /* fwait */
		if ((c->cr0 & (CR0_TS | CR0_MP)) == (CR0_TS | CR0_MP))
			soft_raise(c, EXC_NM, false, 0);
		return;
	}
	need_fpu(c);
	uint16_t w;
	if (i->op == 0xdb && i->modrm == 0xe3) {
		fx_init_x87(c);
		return;
	}
	if (i->op == 0xdb && i->modrm == 0xe2) {
		c->fx[FX_FSW] &= 0x00;
		c->fx[FX_FSW + 1] &= 0x7f;
		return;
	}
	if (i->op == 0xdf && i->modrm == 0xe0) {
		memcpy(&w, c->fx + FX_FSW, 2);
		soft_reg_set(c, i, R_AX, 2, w);
		return;
	}
	if (i->mem && i->op == 0xd9 && (i->reg & 7) == 7) {
		memcpy(&w, c->fx + FX_FCW, 2);
		soft_write(c, i->seg, soft_ea(c, i), 2, w);
		return;
	}
	if (i->mem && i->op == 0xd9 && (i->reg & 7) == 5) {
		w = soft_read(c, i->seg, soft_ea(c, i), 2);
		memcpy(c->fx + FX_FCW, &w, 2);
		return;
	}
	if (i->mem && i->op == 0xdd && (i->reg & 7) == 7) {
		memcpy(&w, c->fx + FX_FSW, 2);
		soft_write(c, i->seg, soft_ea(c, i), 2, w);
		return;
	}
	soft_emul_fail(c);
}
