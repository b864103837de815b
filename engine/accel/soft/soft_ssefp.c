/* soft_ssefp: SSE/SSE2 floating point: add/sub/mul/div/min/max/sqrt in their
 * ps/pd/ss/sd forms, the conversions between integers, floats and doubles,
 * ucomis/comis and cmpps/pd/ss/sd. The host is x86-64 with the same IEEE
 * arithmetic, so each operation runs as the host instruction itself, under
 * the guest's MXCSR (rounding, DAZ/FTZ) with every exception masked; the
 * exceptions it raised are ORed into the guest's MXCSR, and one the guest
 * left unmasked is #XM (#UD without CR4.OSXMMEXCPT) with no result written,
 * as on the CPU. */
#include <string.h>

#include "engine/accel/soft/soft_cpu.h"

#define FX_MXCSR 24
#define FX_XMM 160
#define CR4_OSXMMEXCPT 0x400u

typedef float v4f __attribute__((vector_size(16)));

static uint8_t *xr(struct accel_vcpu *c, int n)
{
	return c->fx + FX_XMM + 16 * n;
}

static uint32_t guest_mxcsr(struct accel_vcpu *c)
{
	uint32_t m;
	memcpy(&m, c->fx + FX_MXCSR, 4);
	return m;
}

/* The second operand: a register, or 4/8/16 bytes of memory. */
static void operand(struct accel_vcpu *c, struct soft_insn *i, uint8_t *v, int len)
{
	memset(v, 0, 16);
	if (!i->mem) {
		memcpy(v, xr(c, i->rm), 16);
		return;
	}
	uint64_t ea = soft_ea(c, i);
	if (len == 16 && (ea & 15))
		soft_gp(c, 0);
	for (int k = 0; k < len; k += 8) {
		int n = len - k < 8 ? len - k : 8;
		uint64_t x = soft_read(c, i->seg, (ea + k) & soft_mask(i->asz), n);
		memcpy(v + k, &x, n);
	}
}

struct fpenv {
	uint32_t host, run;
};

static void enter(struct accel_vcpu *c, struct fpenv *e)
{
	__asm__ volatile("stmxcsr %0" : "=m"(e->host));
	e->run = (guest_mxcsr(c) & ~0x3fu) | 0x1f80u; /* guest rounding, DAZ, FTZ; all masked */
	__asm__ volatile("ldmxcsr %0" : : "m"(e->run));
}

/* Back to the host's MXCSR; faults if the guest unmasked what happened. */
static void leave(struct accel_vcpu *c, struct fpenv *e)
{
	uint32_t after;
	__asm__ volatile("stmxcsr %0" : "=m"(after));
	__asm__ volatile("ldmxcsr %0" : : "m"(e->host));
	uint32_t g = guest_mxcsr(c), raised = after & 0x3f;
	g |= raised;
	memcpy(c->fx + FX_MXCSR, &g, 4);
	if (raised & ~(g >> 7) & 0x3f)
		soft_raise(c, (c->cr4 & CR4_OSXMMEXCPT) ? EXC_XM : EXC_UD, false, 0);
}

#define OP2(insn) __asm__ volatile(insn " %1, %0" : "+x"(a) : "x"(b))

/* add/mul/sub/min/div/max/sqrt: 0f 58 59 5c 5d 5e 5f 51 */
static void arith(struct accel_vcpu *c, struct soft_insn *i)
{
	int form = i->rep == 0xf3 ? 2 : i->rep == 0xf2 ? 3 : i->pfx66 ? 1 : 0; /* ps pd ss sd */
	uint8_t s[16];
	operand(c, i, s, form == 2 ? 4 : form == 3 ? 8 : 16);
	v4f a, b;
	memcpy(&a, xr(c, i->reg), 16);
	memcpy(&b, s, 16);
	struct fpenv e;
	enter(c, &e);
#define FORMS(ps, pd, ss, sd)                                                     \
	switch (form) {                                                           \
	case 0: OP2(ps); break;                                                   \
	case 1: OP2(pd); break;                                                   \
	case 2: OP2(ss); break;                                                   \
	default: OP2(sd); break;                                                  \
	}
	switch (i->op) {
	case 0x58: FORMS("addps", "addpd", "addss", "addsd"); break;
	case 0x59: FORMS("mulps", "mulpd", "mulss", "mulsd"); break;
	case 0x5c: FORMS("subps", "subpd", "subss", "subsd"); break;
	case 0x5d: FORMS("minps", "minpd", "minss", "minsd"); break;
	case 0x5e: FORMS("divps", "divpd", "divss", "divsd"); break;
	case 0x5f: FORMS("maxps", "maxpd", "maxss", "maxsd"); break;
	default: FORMS("sqrtps", "sqrtpd", "sqrtss", "sqrtsd"); break;
	}
#undef FORMS
	leave(c, &e);
	memcpy(xr(c, i->reg), &a, 16);
}

/* 0f 5a, 5b, e6: conversions between vector formats. */
static void convert_vec(struct accel_vcpu *c, struct soft_insn *i)
{
	int form = i->rep == 0xf3 ? 2 : i->rep == 0xf2 ? 3 : i->pfx66 ? 1 : 0;
	int len = 16;
	if (i->op == 0x5a)
		len = form == 0 ? 8 : form == 2 ? 4 : form == 3 ? 8 : 16;
	else if (i->op == 0xe6 && form == 2)
		len = 8;
	uint8_t s[16];
	operand(c, i, s, len);
	v4f a, b;
	memcpy(&a, xr(c, i->reg), 16);
	memcpy(&b, s, 16);
	struct fpenv e;
	enter(c, &e);
	switch (i->op << 2 | form) {
	case 0x5a << 2 | 0: OP2("cvtps2pd"); break;
	case 0x5a << 2 | 1: OP2("cvtpd2ps"); break;
	case 0x5a << 2 | 2: OP2("cvtss2sd"); break;
	case 0x5a << 2 | 3: OP2("cvtsd2ss"); break;
	case 0x5b << 2 | 0: OP2("cvtdq2ps"); break;
	case 0x5b << 2 | 1: OP2("cvtps2dq"); break;
	case 0x5b << 2 | 2: OP2("cvttps2dq"); break;
	case 0xe6 << 2 | 1: OP2("cvttpd2dq"); break;
	case 0xe6 << 2 | 2: OP2("cvtdq2pd"); break;
	case 0xe6 << 2 | 3: OP2("cvtpd2dq"); break;
	default:
		__asm__ volatile("ldmxcsr %0" : : "m"(e.host));
		soft_ud(c);
	}
	leave(c, &e);
	memcpy(xr(c, i->reg), &a, 16);
}

/* 0f 2a: cvtsi2ss/sd; 0f 2c/2d: cvt(t)ss2si / cvt(t)sd2si. */
static void convert_int(struct accel_vcpu *c, struct soft_insn *i)
{
	bool dbl = i->rep == 0xf2, wide = i->osz == 8;
	if (i->rep != 0xf2 && i->rep != 0xf3)
		soft_emul_fail(c); /* the MMX forms */
	struct fpenv e;
	if (i->op == 0x2a) {
		uint64_t x = soft_rm_get(c, i, wide ? 8 : 4);
		v4f a;
		memcpy(&a, xr(c, i->reg), 16);
		enter(c, &e);
		if (dbl && wide)
			__asm__ volatile("cvtsi2sdq %1, %0" : "+x"(a) : "r"(x));
		else if (dbl)
			__asm__ volatile("cvtsi2sdl %1, %0" : "+x"(a) : "r"((uint32_t)x));
		else if (wide)
			__asm__ volatile("cvtsi2ssq %1, %0" : "+x"(a) : "r"(x));
		else
			__asm__ volatile("cvtsi2ssl %1, %0" : "+x"(a) : "r"((uint32_t)x));
		leave(c, &e);
		memcpy(xr(c, i->reg), &a, 16);
		return;
	}
	uint8_t s[16];
	operand(c, i, s, dbl ? 8 : 4);
	v4f b;
	memcpy(&b, s, 16);
	uint64_t r = 0;
	uint32_t r32 = 0;
	bool trunc = i->op == 0x2c;
	enter(c, &e);
	switch ((dbl << 2) | (trunc << 1) | wide) {
	case 7: __asm__ volatile("cvttsd2si %1, %0" : "=r"(r) : "x"(b)); break;
	case 6: __asm__ volatile("cvttsd2si %1, %0" : "=r"(r32) : "x"(b)); break;
	case 5: __asm__ volatile("cvtsd2si %1, %0" : "=r"(r) : "x"(b)); break;
	case 4: __asm__ volatile("cvtsd2si %1, %0" : "=r"(r32) : "x"(b)); break;
	case 3: __asm__ volatile("cvttss2si %1, %0" : "=r"(r) : "x"(b)); break;
	case 2: __asm__ volatile("cvttss2si %1, %0" : "=r"(r32) : "x"(b)); break;
	case 1: __asm__ volatile("cvtss2si %1, %0" : "=r"(r) : "x"(b)); break;
	default: __asm__ volatile("cvtss2si %1, %0" : "=r"(r32) : "x"(b)); break;
	}
	if (!wide)
		r = r32;
	leave(c, &e);
	soft_reg_set(c, i, i->reg, wide ? 8 : 4, r);
}

/* 0f 2e/2f: ucomiss/comiss, ucomisd/comisd: ZF PF CF; OF SF AF cleared. */
static void compare_flags(struct accel_vcpu *c, struct soft_insn *i)
{
	uint8_t s[16];
	operand(c, i, s, i->pfx66 ? 8 : 4);
	v4f a, b;
	memcpy(&a, xr(c, i->reg), 16);
	memcpy(&b, s, 16);
	uint64_t f;
	struct fpenv e;
	enter(c, &e);
	switch ((i->op & 1) | (i->pfx66 << 1)) {
	case 0: __asm__ volatile("ucomiss %1, %2; pushfq; popq %0" : "=r"(f) : "x"(b), "x"(a) : "cc"); break;
	case 1: __asm__ volatile("comiss %1, %2; pushfq; popq %0" : "=r"(f) : "x"(b), "x"(a) : "cc"); break;
	case 2: __asm__ volatile("ucomisd %1, %2; pushfq; popq %0" : "=r"(f) : "x"(b), "x"(a) : "cc"); break;
	default: __asm__ volatile("comisd %1, %2; pushfq; popq %0" : "=r"(f) : "x"(b), "x"(a) : "cc"); break;
	}
	leave(c, &e);
	soft_flags_materialize(c);
	c->rflags = (c->rflags & ~(uint64_t)F_ARITH) | (f & (F_ZF | F_PF | F_CF));
}

/* 0f c2: cmpps/pd/ss/sd with the predicate in imm8 (0-7). */
static void compare_mask(struct accel_vcpu *c, struct soft_insn *i)
{
	int form = i->rep == 0xf3 ? 2 : i->rep == 0xf2 ? 3 : i->pfx66 ? 1 : 0;
	unsigned p = i->imm & 0xff;
	if (p > 7)
		soft_ud(c); /* AVX predicates */
	uint8_t s[16];
	operand(c, i, s, form == 2 ? 4 : form == 3 ? 8 : 16);
	v4f a, b;
	memcpy(&a, xr(c, i->reg), 16);
	memcpy(&b, s, 16);
	struct fpenv e;
	enter(c, &e);
#define CMP(insn)                                                                                   \
	switch (p) {                                                                                \
	case 0: __asm__ volatile(insn " $0, %1, %0" : "+x"(a) : "x"(b)); break;                    \
	case 1: __asm__ volatile(insn " $1, %1, %0" : "+x"(a) : "x"(b)); break;                    \
	case 2: __asm__ volatile(insn " $2, %1, %0" : "+x"(a) : "x"(b)); break;                    \
	case 3: __asm__ volatile(insn " $3, %1, %0" : "+x"(a) : "x"(b)); break;                    \
	case 4: __asm__ volatile(insn " $4, %1, %0" : "+x"(a) : "x"(b)); break;                    \
	case 5: __asm__ volatile(insn " $5, %1, %0" : "+x"(a) : "x"(b)); break;                    \
	case 6: __asm__ volatile(insn " $6, %1, %0" : "+x"(a) : "x"(b)); break;                    \
	default: __asm__ volatile(insn " $7, %1, %0" : "+x"(a) : "x"(b)); break;                   \
	}
	switch (form) {
	case 0: CMP("cmpps"); break;
	case 1: CMP("cmppd"); break;
	case 2: CMP("cmpss"); break;
	default: CMP("cmpsd"); break;
	}
#undef CMP
	leave(c, &e);
	memcpy(xr(c, i->reg), &a, 16);
}

/* Returns false if the opcode is not one of these. */
bool soft_ssefp(struct accel_vcpu *c, struct soft_insn *i)
{
	if ((c->cr0 & CR0_EM) || !(c->cr4 & CR4_OSFXSR))
		soft_ud(c);
	if (c->cr0 & CR0_TS)
		soft_raise(c, EXC_NM, false, 0);
	switch (i->op) {
	case 0x51: case 0x58: case 0x59: case 0x5c: case 0x5d: case 0x5e: case 0x5f:
		arith(c, i);
		return true;
	case 0x5a: case 0x5b: case 0xe6:
		convert_vec(c, i);
		return true;
	case 0x2a: case 0x2c: case 0x2d:
		convert_int(c, i);
		return true;
	case 0x2e: case 0x2f:
		if (i->rep)
			return false;
		compare_flags(c, i);
		return true;
	case 0xc2:
		compare_mask(c, i);
		return true;
	}
	return false;
}
