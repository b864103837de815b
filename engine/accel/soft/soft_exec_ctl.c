/* soft_exec_ctl: control flow and the stack: push/pop in every form,
 * near jumps, calls and returns, jcc/loop/jcxz, enter/leave, int/int3/into/
 * int1 and iret, far transfers (the descriptor work is soft_seg.c's),
 * pushf/popf with their privilege rules. Handlers run with c->rip already at
 * the next instruction. */
#include "engine/accel/soft/soft_cpu.h"

static int stack_addr_size(struct accel_vcpu *c)
{
	return c->mode64 ? 8 : c->seg[S_SS].db ? 4 : 2;
}

static void set_sp(struct accel_vcpu *c, uint64_t sp)
{
	int s = stack_addr_size(c);
	if (s == 2)
		c->r[R_SP] = (c->r[R_SP] & ~0xffffull) | (sp & 0xffff);
	else if (s == 4)
		c->r[R_SP] = (uint32_t)sp;
	else
		c->r[R_SP] = sp;
}

void soft_push(struct accel_vcpu *c, int size, uint64_t v)
{
	uint64_t sp = (c->r[R_SP] - size) & soft_mask(stack_addr_size(c));
	soft_write(c, S_SS, sp, size, v);
	set_sp(c, sp);
}

uint64_t soft_stack_peek(struct accel_vcpu *c, int size, int at)
{
	uint64_t sp = (c->r[R_SP] + at) & soft_mask(stack_addr_size(c));
	return soft_read(c, S_SS, sp, size);
}

uint64_t soft_pop(struct accel_vcpu *c, int size)
{
	uint64_t v = soft_stack_peek(c, size, 0);
	set_sp(c, c->r[R_SP] + size);
	return v;
}

/* A near branch to `target` with operand size osz: truncated, then checked
 * against the CS limit (or for canonical form in 64-bit mode). */
void soft_jump(struct accel_vcpu *c, uint64_t target, int osz)
{
	if (c->mode64) {
		if ((uint64_t)((int64_t)(target << 16) >> 16) != target)
			soft_gp(c, 0);
	} else {
		target &= soft_mask(osz);
		if (target > c->seg[S_CS].limit)
			soft_gp(c, 0);
	}
	c->rip = target;
}

static int stack_osz(struct accel_vcpu *c, struct soft_insn *i)
{
	return c->mode64 ? (i->osz == 2 ? 2 : 8) : i->osz;
}

static int branch_osz(struct accel_vcpu *c, struct soft_insn *i)
{
	return c->mode64 ? 8 : i->osz;
}

static void popf(struct accel_vcpu *c, struct soft_insn *i)
{
	int size = stack_osz(c, i);
	uint64_t v = soft_pop(c, size), old = soft_get_flags(c);
	uint64_t mask = F_ARITH | F_TF | F_DF | F_NT | F_AC | F_ID;
	if (c->rflags & F_VM)
		soft_emul_fail(c);
	if (c->cpl == 0)
		mask |= F_IOPL;
	if ((uint64_t)c->cpl <= ((old >> 12) & 3))
		mask |= F_IF;
	if (size == 2)
		mask &= 0xffff;
	soft_set_flags(c, (old & ~mask) | (v & mask));
}

static void push_pop_seg(struct accel_vcpu *c, struct soft_insn *i)
{
	int seg, size = stack_osz(c, i);
	bool pop;
	if (i->map == 1) {
		seg = (i->op & 8) ? S_GS : S_FS;
		pop = i->op & 1;
	} else {
		if (c->mode64)
			soft_ud(c);
		seg = (i->op >> 3) & 3;
		pop = i->op & 1;
	}
	if (!pop) {
		soft_push(c, size, c->seg[seg].selector);
		return;
	}
	uint16_t sel = soft_stack_peek(c, size, 0);
	soft_load_seg(c, seg, sel);
	soft_pop(c, size);
	if (seg == S_SS)
		c->shadow = 2, c->ss_shadow = true;
}

static void pusha_popa(struct accel_vcpu *c, struct soft_insn *i)
{
	int size = i->osz;
	if (c->mode64)
		soft_ud(c);
	if (i->op == 0x60) {
		uint64_t sp = c->r[R_SP];
		for (int r = 0; r < 8; r++)
			soft_write(c, S_SS, (sp - (uint64_t)(r + 1) * size) & soft_mask(stack_addr_size(c)), size,
				   r == R_SP ? sp : c->r[r]);
		set_sp(c, sp - 8 * size);
		return;
	}
	uint64_t v[8];
	for (int r = 0; r < 8; r++)
		v[7 - r] = soft_stack_peek(c, size, r * size);
	for (int r = 0; r < 8; r++)
		if (r != R_SP)
			soft_reg_set(c, i, r, size, v[r]);
	set_sp(c, c->r[R_SP] + 8 * size);
}

static void enter_leave(struct accel_vcpu *c, struct soft_insn *i)
{
	int size = stack_osz(c, i), ss = stack_addr_size(c);
	if (i->op == 0xc9) {
		uint64_t bp = c->r[R_BP] & soft_mask(ss);
		uint64_t v = soft_read(c, S_SS, bp, size);
		set_sp(c, bp + size);
		soft_reg_set(c, i, R_BP, size, v);
		return;
	}
	unsigned level = i->imm2 & 31;
	uint64_t bp = c->r[R_BP];
	soft_push(c, size, bp);
	uint64_t frame = c->r[R_SP];
	for (unsigned l = 1; l < level; l++) {
		bp = (bp - size) & soft_mask(ss);
		soft_push(c, size, soft_read(c, S_SS, bp, size));
	}
	if (level)
		soft_push(c, size, frame);
	uint64_t nsp = (c->r[R_SP] - (i->imm & 0xffff)) & soft_mask(ss);
	soft_linear(c, S_SS, nsp, 1, ACC_W); /* the new stack must be reachable */
	soft_reg_set(c, i, R_BP, size, frame);
	set_sp(c, nsp);
}

static void far_mem(struct accel_vcpu *c, struct soft_insn *i, bool call)
{
	if (!i->mem)
		soft_ud(c);
	int osz = i->osz;
	uint64_t ea = soft_ea(c, i);
	uint64_t off = soft_read(c, i->seg, ea, osz);
	uint16_t sel = soft_read(c, i->seg, (ea + osz) & soft_mask(i->asz), 2);
	soft_far_jump(c, sel, off, osz, call, c->rip);
}

static void group5(struct accel_vcpu *c, struct soft_insn *i)
{
	uint64_t t;
	switch (i->reg & 7) {
	case 2:
		t = soft_rm_get(c, i, branch_osz(c, i) == 8 ? 8 : i->osz);
		soft_push(c, stack_osz(c, i), c->rip);
		soft_jump(c, t, branch_osz(c, i));
		return;
	case 3: far_mem(c, i, true); return;
	case 4:
		soft_jump(c, soft_rm_get(c, i, branch_osz(c, i) == 8 ? 8 : i->osz), branch_osz(c, i));
		return;
	case 5: far_mem(c, i, false); return;
	case 6: soft_push(c, stack_osz(c, i), soft_rm_get(c, i, stack_osz(c, i))); return;
	default: soft_ud(c);
	}
}

static void int3(struct accel_vcpu *c)
{
	if (c->dbg_control & KVM_GUESTDBG_USE_SW_BP) {
		struct kvm_run *run = c->run;
		run->exit_reason = KVM_EXIT_DEBUG;
		run->debug.arch.exception = EXC_BP;
		run->debug.arch.pc = c->seg[S_CS].base + c->insn_rip;
		run->debug.arch.dr6 = c->dr6;
		run->debug.arch.dr7 = c->dr7;
		soft_exit(c);
	}
	soft_deliver(c, EXC_BP, INT_SOFT, false, 0, c->rip);
}

static void ints(struct accel_vcpu *c, struct soft_insn *i)
{
	switch (i->op) {
	case 0xcc: int3(c); return;
	case 0xcd: soft_deliver(c, i->imm & 0xff, INT_SOFT, false, 0, c->rip); return;
	case 0xce:
		if (c->mode64)
			soft_ud(c);
		if (soft_get_flags(c) & F_OF)
			soft_deliver(c, EXC_OF, INT_SOFT, false, 0, c->rip);
		return;
	case 0xf1:
		/* ICEBP's #DB takes in a pending mov ss data breakpoint and the
		 * single-step trap of this instruction: one #DB */
		c->dr6 |= (uint64_t)c->data_bp_deferred;
		c->data_bp_deferred = 0;
		c->no_trap = true;
		soft_deliver(c, EXC_DB, INT_ICEBP, false, 0, c->rip);
		return;
	default: soft_iret(c, i->osz); return;
	}
}

void soft_exec_ctl(struct accel_vcpu *c, struct soft_insn *i)
{
	uint8_t op = i->op;
	int bo = branch_osz(c, i);
	if (op >= 0x70 && op <= 0x7f) {
		if (soft_cond(c, op & 15))
			soft_jump(c, c->rip + soft_sext(i->imm, 1), bo);
		return;
	}
	if (op >= 0x50 && op <= 0x57) {
		soft_push(c, stack_osz(c, i), c->r[(op & 7) | ((i->rex & 1) << 3)]);
		return;
	}
	if (op >= 0x58 && op <= 0x5f) {
		int size = stack_osz(c, i);
		uint64_t v = soft_pop(c, size);
		soft_reg_set(c, i, (op & 7) | ((i->rex & 1) << 3), size, v);
		return;
	}
	switch (op) {
	case 0x06: case 0x07: case 0x0e: case 0x16: case 0x17: case 0x1e: case 0x1f:
		push_pop_seg(c, i);
		return;
	case 0x60: case 0x61: pusha_popa(c, i); return;
	case 0x68: soft_push(c, stack_osz(c, i), soft_sext(i->imm, i->osz == 2 ? 2 : 4)); return;
	case 0x6a: soft_push(c, stack_osz(c, i), soft_sext(i->imm, 1)); return;
	case 0x8f: {
		int size = stack_osz(c, i);
		uint64_t v = soft_stack_peek(c, size, 0);
		soft_pop(c, size);     /* the address is computed with the new rSP; a */
		soft_rm_set(c, i, size, v); /* fault restores rSP (c->insn_rsp) */
		return;
	}
	case 0x9c:
		if (c->rflags & F_VM)
			soft_emul_fail(c);
		soft_push(c, stack_osz(c, i), soft_get_flags(c) & ~(uint64_t)(F_VM | F_RF));
		return;
	case 0x9d: popf(c, i); return;
	case 0xc2: case 0xc3: {
		uint64_t t = soft_stack_peek(c, stack_osz(c, i), 0);
		soft_jump(c, t, bo);
		soft_pop(c, stack_osz(c, i));
		if (op == 0xc2)
			c->r[R_SP] = (c->r[R_SP] & ~soft_mask(stack_addr_size(c))) |
				     ((c->r[R_SP] + (i->imm & 0xffff)) & soft_mask(stack_addr_size(c)));
		return;
	}
	case 0xc8: case 0xc9: enter_leave(c, i); return;
	case 0xca: case 0xcb: soft_far_ret(c, i->osz, op == 0xca ? i->imm : 0); return;
	case 0xcc: case 0xcd: case 0xce: case 0xcf: case 0xf1: ints(c, i); return;
	case 0xe8: {
		uint64_t t = c->rip + soft_sext(i->imm, 4);
		if (!c->mode64)
			t &= soft_mask(i->osz);
		soft_push(c, stack_osz(c, i), c->rip);
		soft_jump(c, t, bo);
		return;
	}
	case 0xe9: soft_jump(c, c->rip + soft_sext(i->imm, i->osz == 2 ? 2 : 4), bo); return;
	case 0xeb: soft_jump(c, c->rip + soft_sext(i->imm, 1), bo); return;
	case 0x9a: case 0xea:
		if (c->mode64)
			soft_ud(c);
		soft_far_jump(c, i->imm2, i->imm, i->osz, op == 0x9a, c->rip);
		return;
	case 0xe0: case 0xe1: case 0xe2: case 0xe3: {
		uint64_t m = soft_mask(i->asz), cx = c->r[R_CX] & m;
		bool go;
		if (op == 0xe3) {
			go = cx == 0;
		} else {
			cx = (cx - 1) & m;
			c->r[R_CX] = i->asz == 4 ? (uint32_t)cx : (c->r[R_CX] & ~m) | cx;
			go = cx != 0;
			if (op == 0xe0)
				go = go && !(soft_get_flags(c) & F_ZF);
			else if (op == 0xe1)
				go = go && (soft_get_flags(c) & F_ZF);
		}
		if (go)
			soft_jump(c, c->rip + soft_sext(i->imm, 1), bo);
		return;
	}
	case 0xfe: case 0xff:
		if ((i->reg & 7) < 2 || op == 0xfe) {
			if ((i->reg & 7) >= 2)
				soft_ud(c);
			void soft_exec_unary(struct accel_vcpu *, struct soft_insn *);
			soft_exec_unary(c, i);
			return;
		}
		group5(c, i);
		return;
	}
	soft_emul_fail(c);
}

/* Two-byte map: jcc rel16/32, push/pop fs/gs. */
void soft_exec_ctl2(struct accel_vcpu *c, struct soft_insn *i)
{
	if (i->op >= 0x80 && i->op <= 0x8f) {
		if (soft_cond(c, i->op & 15))
			soft_jump(c, c->rip + soft_sext(i->imm, i->osz == 2 ? 2 : 4), branch_osz(c, i));
		return;
	}
	push_pop_seg(c, i);
}
