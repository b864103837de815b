/* soft_string: movs, cmps, stos, lods, scas, ins and outs, with rep/repe/
 * repne. Each element commits rCX/rSI/rDI before the next, so a fault or an
 * I/O exit mid-way leaves them consistent with RIP still at the instruction;
 * a long rep yields every few thousand elements (c->repeat) so interrupts
 * and kicks are seen, and re-executes from where it stopped. */
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
	for (int k = 0; k < budget; k++) {
		if ((c->r[R_CX] & m) == 0)
			return;
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
