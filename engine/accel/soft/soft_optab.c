/* soft_optab: which handler runs each opcode of the one-byte and 0f maps.
 * Handlers are grouped by family (soft_exec_*.c, soft_string.c, soft_sys.c,
 * soft_sse.c); an opcode without one is an emulation failure. */
#include "engine/accel/soft/soft_cpu.h"

static void fail(struct accel_vcpu *c, struct soft_insn *i)
{
	(void)i;
	soft_emul_fail(c);
}

/* mov Sreg, r/m16 and the far-pointer loads lds/les/lss/lfs/lgs. */
static void seg_loads(struct accel_vcpu *c, struct soft_insn *i)
{
	if (i->map == 0 && i->op == 0x8e) {
		int s = i->reg & 7;
		if (s == S_CS || s > S_GS)
			soft_ud(c);
		soft_load_seg(c, s, soft_rm_get(c, i, 2));
		if (s == S_SS)
			c->shadow = 2, c->ss_shadow = true;
		return;
	}
	if (!i->mem || (i->map == 0 && c->mode64))
		soft_ud(c);
	int s = i->map == 0 ? (i->op == 0xc4 ? S_ES : S_DS) : i->op == 0xb2 ? S_SS : i->op == 0xb4 ? S_FS : S_GS;
	uint64_t ea = soft_ea(c, i);
	uint64_t off = soft_read(c, i->seg, ea, i->osz);
	uint16_t sel = soft_read(c, i->seg, (ea + i->osz) & soft_mask(i->asz), 2);
	soft_load_seg(c, s, sel);
	soft_reg_set(c, i, i->reg, i->osz, off);
}

static soft_exec_fn one_byte(uint8_t op)
{
	if (op < 0x40) {
		if ((op & 7) < 6)
			return soft_exec_int;
		if (op == 0x27 || op == 0x2f || op == 0x37 || op == 0x3f)
			return soft_exec_sys1;
		return soft_exec_ctl;
	}
	if (op < 0x50)
		return soft_exec_int;
	if (op < 0x62 || (op >= 0x70 && op <= 0x7f))
		return soft_exec_ctl;
	switch (op) {
	case 0x63: case 0x84: case 0x85: case 0x86: case 0x87: case 0x88: case 0x89: case 0x8a:
	case 0x8b: case 0x8c: case 0x8d: case 0x98: case 0x99: case 0x9e: case 0x9f: case 0xa8:
	case 0xa9: case 0xc6: case 0xc7: case 0xd7:
		return soft_exec_int;
	case 0x68: case 0x6a: case 0x8f: case 0x9a: case 0x9c: case 0x9d: case 0xc2: case 0xc3:
	case 0xc8: case 0xc9: case 0xca: case 0xcb: case 0xcc: case 0xcd: case 0xce: case 0xcf:
	case 0xe0: case 0xe1: case 0xe2: case 0xe3: case 0xe8: case 0xe9: case 0xea: case 0xeb:
	case 0xf1: case 0xfe: case 0xff:
		return soft_exec_ctl;
	case 0x69: case 0x6b: case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3:
	case 0xf6: case 0xf7:
		return soft_exec_bits;
	case 0x6c: case 0x6d: case 0x6e: case 0x6f: case 0xa4: case 0xa5: case 0xa6: case 0xa7:
	case 0xaa: case 0xab: case 0xac: case 0xad: case 0xae: case 0xaf:
		return soft_exec_string;
	case 0x8e: case 0xc4: case 0xc5:
		return seg_loads;
	case 0x9b:
		return soft_exec_x87;
	case 0xd4: case 0xd5: case 0xd6: case 0xe4: case 0xe5: case 0xe6: case 0xe7: case 0xec: case 0xed:
	case 0xee: case 0xef: case 0xf4: case 0xf5: case 0xf8: case 0xf9: case 0xfa: case 0xfb:
	case 0xfc: case 0xfd:
		return soft_exec_sys1;
	}
	if (op >= 0x80 && op <= 0x83)
		return soft_exec_int;
	if (op >= 0x90 && op <= 0x97)
		return soft_exec_int;
	if (op >= 0xa0 && op <= 0xa3)
		return soft_exec_int;
	if (op >= 0xb0 && op <= 0xbf)
		return soft_exec_int;
	if (op >= 0xd8 && op <= 0xdf)
		return soft_exec_x87;
	return fail;
}

static soft_exec_fn two_byte(uint8_t op)
{
	if ((op >= 0x40 && op <= 0x4f) || (op >= 0x90 && op <= 0x9f) || (op >= 0xc8 && op <= 0xcf))
		return soft_exec_int2;
	if (op >= 0x80 && op <= 0x8f)
		return soft_exec_ctl2;
	if ((op >= 0x18 && op <= 0x1f) || (op >= 0x20 && op <= 0x23))
		return soft_exec_sys2;
	if ((op >= 0x12 && op <= 0x17) || op == 0x50 || (op >= 0x60 && op <= 0x76) ||
	    op == 0x2a || (op >= 0x2c && op <= 0x2f) || (op >= 0x51 && op <= 0x5f) || op == 0xc2 ||
	    (op >= 0xc4 && op <= 0xc6) || op >= 0xd1)
		return soft_exec_sse;
	switch (op) {
	case 0x00: case 0x01: case 0x02: case 0x03: case 0x05: case 0x06: case 0x07: case 0x08: case 0x09: case 0x0b:
	case 0x0d: case 0x30: case 0x31: case 0x32: case 0x34: case 0x35: case 0xa2:
		return soft_exec_sys2;
	case 0x10: case 0x11: case 0x28: case 0x29: case 0x2b: case 0x54: case 0x55: case 0x56:
	case 0x57: case 0x6e: case 0x6f: case 0x7e: case 0x7f: case 0xd6: case 0xdb: case 0xdf:
	case 0xeb: case 0xef: case 0xe7: case 0xc3: case 0x77: case 0xae:
		return soft_exec_sse;
	case 0xb0: case 0xb1: case 0xb6: case 0xb7: case 0xbe: case 0xbf: case 0xc0: case 0xc1:
		return soft_exec_int2;
	case 0xa0: case 0xa1: case 0xa8: case 0xa9:
		return soft_exec_ctl2;
	case 0xb2: case 0xb4: case 0xb5:
		return seg_loads;
	case 0xa3: case 0xab: case 0xb3: case 0xbb: case 0xba: case 0xbc: case 0xbd: case 0xb8:
	case 0xa4: case 0xa5: case 0xac: case 0xad: case 0xaf: case 0xc7:
		return soft_exec_bits;
	}
	return fail;
}

soft_exec_fn soft_op1(uint8_t op)
{
	return one_byte(op);
}

soft_exec_fn soft_op2(uint8_t op)
{
	return two_byte(op);
}
