/* gdbregs: the register side of the gdb stub, with no socket: the target
 * description (x86-64 or i386: general, segment, x87 and SSE registers),
 * a vCPU's registers as gdb numbers them, reading and writing one or all of
 * them, and the checks a write must pass before it reaches the engine
 * (RFLAGS reserved bits, canonical RIP and FS/GS bases, x87 and MXCSR
 * widths). Everything here works on a struct gdb_cpu snapshot, so it can be
 * tested without a VM; gdb_cpu_read/gdb_cpu_write move it to and from one. */
#ifndef HVWB_GDBREGS_H
#define HVWB_GDBREGS_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct gdb_reg_desc;

/* The largest register, in bytes (xmm). */
#define GDB_REG_MAX 16

/* A snapshot of one vCPU, read when gdb asks and written back after changes. */
struct gdb_cpu {
	struct kvm_regs r;
	struct kvm_sregs s;
	struct kvm_fpu f;
	bool have_fpu;          /* f was read (writes to x87/SSE registers need it) */
	bool fpu_dirty;         /* f changed: gdb_cpu_write writes it back */
};

struct gdb_layout {
	bool long_mode;
	const struct gdb_reg_desc *regs;
	int nregs, pc_reg, sp_reg, fp_reg;
	size_t g_size;          /* bytes of the whole register block (g/G) */
	char xml[16384];
	size_t xml_len;
};

/* x86-64 registers for a vCPU in long mode (EFER.LMA), i386 otherwise. */
void gdb_layout_init(struct gdb_layout *l, bool long_mode);

/* Size in bytes of register n (0 if there is none). */
int gdb_reg_size(const struct gdb_layout *l, int n);
/* Little-endian bytes of register n into out (GDB_REG_MAX bytes of room);
 * returns its size. */
int gdb_reg_get(const struct gdb_layout *l, int n, const struct gdb_cpu *c, uint8_t *out);
/* Sets register n from gdb_reg_size(n) bytes; -errno with a message when the
 * value cannot be held (a segment selector outside real mode, an x87 control
 * word wider than 16 bits, ...). Whole-state checks are gdb_cpu_check's. */
int gdb_reg_set(const struct gdb_layout *l, int n, struct gdb_cpu *c, const uint8_t *in);

/* The checks a register state passes before it is written: RFLAGS bit 1 set
 * and bits 3, 5, 15, 63..22 clear; RIP canonical in 64-bit code and within
 * 32 bits otherwise; FS and GS bases canonical; MXCSR bits 31..16 clear.
 * 0 or -EINVAL with a message. */
int gdb_cpu_check(const struct gdb_cpu *c);
/* Whether pc is a valid RIP for code with these system registers. */
int gdb_check_pc(const struct kvm_sregs *s, uint64_t pc);

int gdb_cpu_read(struct vm *vm, int vcpu, struct gdb_cpu *c);
/* gdb_cpu_check, then writes the registers back (and the FPU if dirty). */
int gdb_cpu_write(struct vm *vm, int vcpu, struct gdb_cpu *c);

#endif
