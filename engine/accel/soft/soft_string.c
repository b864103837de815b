/* soft_string: movs, cmps, stos, lods, scas, ins and outs, with rep/repe/
 * repne. Each element commits rCX/rSI/rDI before the next, so a fault or an
 * I/O exit mid-way leaves them consistent with RIP still at the instruction;
 * a long rep yields every few thousand elements (c->repeat) so interrupts
 * and kicks are seen, and re-executes from where it stopped. */
#include <string.h>

#include "engine/accel/soft/soft_cpu.h"

#define REP_CHUNK 4096

static void set_index(struct accel_vcpu *c, int r, int asz, uint64_t v)
{
	if (asz == 8)
		c->r[r] = v;
	else if (asz == 4)
		c->r[r] = (uint32_t)v;
	else
		c->r[r] = (c->r[r] & ~0xffffull) | (v & 0xffff);
}

/* One element; returns false when a repe/repne condition ends the loop. */
static bool element(struct accel_vcpu *c, struct soft_insn *i, int size, int64_t delta)
{
	uint64_t m = soft_mask(i->asz);
	uint64_t si = c->r[R_SI] & m, di = c->r[R_DI] & m, v, a;
	uint16_t port = c->r[R_DX];
	switch (i->op) {
	case 0xa4: case 0xa5:
		v = soft_read(c, i->seg, si, size);
		soft_write(c, S_ES, di, size, v);
		set_index(c, R_SI, i->asz, si + delta);
		set_index(c, R_DI, i->asz, di + delta);
		return true;
	case 0xa6: case 0xa7:
		a = soft_read(c, i->seg, si, size);
		v = soft_read(c, S_ES, di, size);
		soft_alu(c, 7, size, a, v);
		set_index(c, R_SI, i->asz, si + delta);
		set_index(c, R_DI, i->asz, di + delta);
		return !i->rep || soft_cond(c, 4 + (i->rep == 0xf2)); /* repe: while ZF, repne: while !ZF */
	case 0xaa: case 0xab:
		soft_write(c, S_ES, di, size, c->r[R_AX]);
		set_index(c, R_DI, i->asz, di + delta);
		return true;
	case 0xac: case 0xad:
		v = soft_read(c, i->seg, si, size);
		soft_reg_set(c, i, R_AX, size, v);
		set_index(c, R_SI, i->asz, si + delta);
		return true;
	case 0xae: case 0xaf:
		v = soft_read(c, S_ES, di, size);
		soft_alu(c, 7, size, c->r[R_AX], v);
		set_index(c, R_DI, i->asz, di + delta);
		return !i->rep || soft_cond(c, 4 + (i->rep == 0xf2)); /* repe: while ZF, repne: while !ZF */
	case 0x6c: case 0x6d: {
		uint64_t lin = soft_linear(c, S_ES, di, size, ACC_W);
		soft_translate(c, c->mode64 ? lin : (uint32_t)lin, ACC_W, c->cpl == 3); /* fault first */
		v = 0;
		soft_io_access(c, true, port, &v, size, false);
		soft_lin_write(c, lin, size, v);
		set_index(c, R_DI, i->asz, di + delta);
		return true;
	}
	default:
		v = soft_read(c, i->seg, si, size);
		soft_io_access(c, true, port, &v, size, true);
		set_index(c, R_SI, i->asz, si + delta);
		return true;
	}
}

/* A segment the fast path may address without limit checks. */
static bool flat(const struct accel_vcpu *c, int seg)
{
	const struct kvm_segment *s = &c->seg[seg];
	return c->mode64 ? seg < S_FS : (s->base == 0 && s->limit == 0xffffffff && !(s->type & 4) &&
					  !s->unusable && (seg != S_ES || (s->type & 0xa) == 2));
}

/* rep movs / rep stos forward, a page at a time straight on host memory.
 * Returns the elements done (0: take the element-by-element path). */
static uint64_t fast_chunk(struct accel_vcpu *c, struct soft_insn *i, int size, uint64_t count)
{
	bool movs = i->op <= 0xa5;
	if (c->watch || !flat(c, S_ES) || (movs && !flat(c, i->seg)) || i->asz == 2)
		return 0;
	uint64_t m = soft_mask(i->asz), di = c->r[R_DI] & m, si = c->r[R_SI] & m;
	uint64_t dl = soft_linear(c, S_ES, di, size, ACC_W), sl = movs ? soft_linear(c, i->seg, si, size, ACC_R) : 0;
	uint64_t n = (0x1000 - (dl & 0xfff)) / size;
	if (movs && (0x1000 - (sl & 0xfff)) / size < n)
		n = (0x1000 - (sl & 0xfff)) / size;
	if (n > count)
		n = count;
	if (n == 0 || (!c->mode64 && (di + n * size - 1 > 0xffffffffull || si + n * size - 1 > 0xffffffffull)))
		return 0;
	bool user = c->cpl == 3;
	uint8_t *src = movs ? soft_translate(c, sl, ACC_R, user) : NULL;
	if (movs && !src)
		return 0;
	uint8_t *dst = soft_translate(c, dl, ACC_W, user);
	if (!dst)
		return 0;
	uint64_t bytes = n * size;
	if (movs) {
		if (dst > src && dst < src + bytes)
			return 0; /* overlapping forward copy: element by element */
		memmove(dst, src, bytes);
		set_index(c, R_SI, i->asz, si + bytes);
	} else if (size == 1) {
		memset(dst, (int)(c->r[R_AX] & 0xff), bytes);
	} else {
		for (uint64_t k = 0; k < n; k++)
			memcpy(dst + k * size, &c->r[R_AX], size);
	}
	set_index(c, R_DI, i->asz, di + bytes);
	set_index(c, R_CX, i->asz, count - n);
	return n;
}

void soft_exec_string(struct accel_vcpu *c, struct soft_insn *i)
{
	int size = (i->op & 1) ? (i->osz) : 1;
	if (i->op >= 0x6c && i->op <= 0x6f) {
		if (size == 8)
			size = 4;
		soft_check_io_perm(c, c->r[R_DX], size);
	}
	int64_t delta = (soft_get_flags(c) & F_DF) ? -size : size;
	if (!i->rep) {
		element(c, i, size, delta);
		return;
	}
	uint64_t m = soft_mask(i->asz);
	int budget = (c->rflags & F_TF) || (c->dbg_control & KVM_GUESTDBG_SINGLESTEP) ? 1 : REP_CHUNK;
	bool bulk = budget > 1 && delta > 0 && ((i->op >= 0xa4 && i->op <= 0xa5) || (i->op >= 0xaa && i->op <= 0xab));
	for (int k = 0; k < budget; k++) {
		if ((c->r[R_CX] & m) == 0)
			return;
		if (bulk) {
			uint64_t n = fast_chunk(c, i, size, c->r[R_CX] & m);
			if (n) {
				k += n / 64; /* a page counts as a few elements against the budget */
				continue;
			}
		}
		bool go = element(c, i, size, delta);
		set_index(c, R_CX, i->asz, (c->r[R_CX] & m) - 1);
		c->io_n = c->io_pos = 0;
		if (!go || (c->r[R_CX] & m) == 0)
			return;
		if (c->wq_n)
			break; /* a write for the VMM: exit now, come back for the rest */
	}
	c->repeat = true;
	c->exit_block = true;
	c->rip = c->insn_rip;
}
