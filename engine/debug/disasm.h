/* disasm: x86 disassembly (capstone) of guest code in the mode a vCPU is in
 * now (16, 32 or 64 bits from CR0.PE, EFER.LMA, CS.L and CS.DB), reading
 * through the guest's page tables, with branch targets and RIP-relative
 * operands named from the VM's symbol table ("call 0x1002e0 <kmain>"). */
#ifndef HVWB_DISASM_H
#define HVWB_DISASM_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct symtab;

struct disasm_insn {
	uint64_t addr;
	uint8_t bytes[16];
	unsigned len;
	char mnemonic[32];
	char operands[192];   /* with symbols added */
	char text[232];       /* "mnemonic operands", or ".byte 0x.." when invalid */
	bool valid;           /* false: bytes that do not decode (len 1) */
	bool is_call, is_ret, is_jump, is_int, is_iret;
	bool has_target;      /* a direct branch target or RIP-relative address */
	uint64_t target;
};

/* 16, 32 or 64: the code size the CPU would use with these registers. */
int disasm_bits_of(const struct kvm_sregs *s);
int disasm_bits(struct vm *vm, int vcpu);

/* Decodes one instruction from code[0..len). Returns its length, or -EILSEQ
 * when the bytes are not an instruction (out is then a ".byte" of length 1).
 * syms may be NULL. */
int disasm_decode(int bits, uint64_t addr, const uint8_t *code, size_t len,
		  struct symtab *syms, struct disasm_insn *out);

/* The instruction at a linear address of a stopped vCPU: its length (out
 * says call/ret/...), -EILSEQ if invalid, -EFAULT if unreadable. */
int disasm_one(struct vm *vm, int vcpu, uint64_t addr, struct disasm_insn *out);
/* Up to n instructions from addr into out[]; invalid bytes become ".byte"
 * entries. Returns how many were filled, stopping early at memory that
 * cannot be read (an error only if not even the first could be). */
int disasm_range(struct vm *vm, int vcpu, uint64_t addr, int n, struct disasm_insn *out);
/* bits = 0 uses the vCPU's mode. */
int disasm_range_bits(struct vm *vm, int vcpu, int bits, uint64_t addr, int n,
		      struct disasm_insn *out);

/* For a stop that leaves its vCPU paused at an instruction (step, breakpoint,
 * watchpoint, pause, timeout): fills the instruction there and the symbol of
 * RIP, so the stop says where the guest stands. Leaves others as they are. */
struct vm_stop;
void disasm_locate_stop(struct vm *vm, struct vm_stop *s);

/* Decoding may happen on any thread: each has its own capstone handles,
 * closed when it exits. How many are open now, over all threads (tests). */
int disasm_open_handles(void);

/* "kmain" or "kmain+0x10" into buf; false (buf empty) when no symbol. */
bool disasm_symbolize(struct symtab *syms, uint64_t addr, char *buf, size_t cap);

#endif
