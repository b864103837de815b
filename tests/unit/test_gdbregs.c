/* Unit tests for gdbregs, the gdb stub's registers, without a VM: writing
 * every register kind (an 80-bit st register into a 10-byte slot, the x87
 * control words, xmm and mxcsr) changes the snapshot and reads back, the
 * whole block g returns can be written back register by register, and the
 * checks refuse bad RFLAGS, non-canonical RIP and bases, and wide values.
 * Under ASan a write past a register's slot is a failure by itself. */
#include <errno.h>

#include "engine/debug/gdbregs.h"
#include "util/err.h"
#include "tap.h"

static struct gdb_layout L64, L32;

static int regnum(const struct gdb_layout *l, const char *name)
{
	/* numbers are the order of the target description */
	static const char *const n64[] = { "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
		"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "eflags",
		"cs", "ss", "ds", "es", "fs", "gs", "st0", "st1", "st2", "st3", "st4", "st5", "st6", "st7",
		"fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop", "fs_base", "gs_base",
		"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
		"xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "mxcsr", NULL };
	static const char *const n32[] = { "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
		"eip", "eflags", "cs", "ss", "ds", "es", "fs", "gs", "st0", "st1", "st2", "st3", "st4",
		"st5", "st6", "st7", "fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop",
		"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "mxcsr", NULL };
	const char *const *n = l == &L64 ? n64 : n32;
	for (int i = 0; n[i]; i++)
		if (strcmp(n[i], name) == 0)
			return i;
	return -1;
}

static void cpu_init(struct gdb_cpu *c, bool long_mode)
{
	memset(c, 0, sizeof(*c));
	c->r.rflags = 0x2;
	c->r.rip = 0x100000;
	c->s.cr0 = 1;
	if (long_mode) {   /* consistent, as the engine's check wants: LMA = LME && PG, PAE */
		c->s.cr0 = 0x80000001;
		c->s.cr4 = 0x20;
		c->s.efer = 1u << 10 | 1u << 8;
		c->s.cs.l = 1;
	}
	c->have_fpu = true;
	c->f.mxcsr = 0x1f80;
	c->f.fcw = 0x37f;
}

static int set32(const struct gdb_layout *l, struct gdb_cpu *c, const char *name, uint32_t v)
{
	uint8_t b[4];
	memcpy(b, &v, 4);
	return gdb_reg_set(l, regnum(l, name), c, b);
}

static uint64_t get(const struct gdb_layout *l, const struct gdb_cpu *c, const char *name)
{
	uint8_t b[GDB_REG_MAX];
	uint64_t v = 0;
	int n = gdb_reg_get(l, regnum(l, name), c, b);
	memcpy(&v, b, n < 8 ? (size_t)n : 8);
	return v;
}

int main(void)
{
	tap_plan(35);
	gdb_layout_init(&L64, true);
	gdb_layout_init(&L32, false);
	is_int(L64.nregs, 59, "x86-64: 59 registers");
	is_int(L32.nregs, 41, "i386: 41 registers");
	is_int(L64.g_size, 552, "x86-64 register block: 552 bytes");
	ok(strstr(L64.xml, "org.gnu.gdb.i386.sse") && strstr(L64.xml, "name=\"mxcsr\"") &&
	   strstr(L64.xml, "</feature></target>"), "the description has the SSE feature and is complete");
	is_int(gdb_reg_size(&L64, regnum(&L64, "st0")), 10, "st0 is 10 bytes");
	is_int(gdb_reg_size(&L64, regnum(&L64, "xmm15")), 16, "xmm15 is 16 bytes");

	struct gdb_cpu c;
	cpu_init(&c, true);
	/* 1.5 as an 80-bit extended: mantissa 0xc000000000000000, exponent 0x3fff */
	const uint8_t one_and_half[10] = { 0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0x3f };
	is_int(gdb_reg_set(&L64, regnum(&L64, "st0"), &c, one_and_half), 0, "st0 = 1.5 is taken");
	ok(memcmp(c.f.fpr[0], one_and_half, 10) == 0 && c.fpu_dirty, "and lands in the FPU image, marked dirty");
	uint8_t back[GDB_REG_MAX];
	ok(gdb_reg_get(&L64, regnum(&L64, "st0"), &c, back) == 10 && memcmp(back, one_and_half, 10) == 0,
	   "st0 reads back");
	is_int(gdb_reg_set(&L64, regnum(&L64, "st7"), &c, one_and_half), 0, "st7 too");
	ok(c.f.fpr[7][9] == 0x3f && c.f.fpr[6][9] == 0, "only st7's slot changes");

	is_int(set32(&L64, &c, "fctrl", 0x27f), 0, "fctrl = 0x27f");
	is_int(get(&L64, &c, "fctrl"), 0x27f, "fctrl reads back");
	is_int(set32(&L64, &c, "fctrl", 0x10000), -EINVAL, "fctrl wider than 16 bits is refused");
	set32(&L64, &c, "fstat", 0x3800); /* TOP = 7 */
	is_int(get(&L64, &c, "fstat"), 0x3800, "fstat reads back");
	/* with TOP = 7, st0 is physical register 7 (1.5: valid), st1 physical 0 */
	is_int(set32(&L64, &c, "ftag", 0x3fff), 0, "ftag: only physical register 7 in use");
	is_int(c.f.ftwx, 0x80, "the abridged tag has bit 7");
	is_int(get(&L64, &c, "ftag"), 0x3fff, "ftag reads back (physical 7 holds st0 = 1.5: valid)");
	set32(&L64, &c, "fioff", 0x1234);
	set32(&L64, &c, "fiseg", 0x10);
	set32(&L64, &c, "fooff", 0x5678);
	set32(&L64, &c, "foseg", 0x20);
	ok(c.f.last_ip == 0x1000001234ull && c.f.last_dp == 0x2000005678ull,
	   "fioff/fiseg and fooff/foseg are the halves of the FPU pointers");
	ok(get(&L64, &c, "fiseg") == 0x10 && get(&L64, &c, "fooff") == 0x5678, "and read back");
	is_int(set32(&L64, &c, "fop", 0x7ff), 0, "fop = 0x7ff");
	is_int(set32(&L64, &c, "fop", 0x800), -EINVAL, "fop wider than 11 bits is refused");
	is_int(set32(&L64, &c, "mxcsr", 0x1fa0), 0, "mxcsr = 0x1fa0");
	is_int(get(&L64, &c, "mxcsr"), 0x1fa0, "mxcsr reads back");
	uint8_t x[16];
	for (int i = 0; i < 16; i++)
		x[i] = (uint8_t)(i + 1);
	gdb_reg_set(&L64, regnum(&L64, "xmm15"), &c, x);
	ok(memcmp(c.f.xmm[15], x, 16) == 0, "xmm15 lands in the FPU image");

	/* the whole block, as G sends back what g returned */
	uint8_t block[1024];
	size_t off = 0;
	for (int i = 0; i < L64.nregs; i++)
		off += (size_t)gdb_reg_get(&L64, i, &c, block + off);
	is_int(off, L64.g_size, "g's block has g_size bytes");
	struct gdb_cpu d;
	cpu_init(&d, true);
	int r = 0;
	off = 0;
	for (int i = 0; i < L64.nregs && r == 0; i++) {
		r = gdb_reg_set(&L64, i, &d, block + off);
		off += (size_t)gdb_reg_size(&L64, i);
	}
	ok(r == 0 && memcmp(&d.f, &c.f, sizeof(c.f)) == 0 && d.r.rip == c.r.rip,
	   "writing it back register by register gives the same state");

	/* checks */
	cpu_init(&c, true);
	is_int(gdb_cpu_check(&c), 0, "a sane state passes");
	c.r.rflags = 0;
	ok(gdb_cpu_check(&c) == -EINVAL && strstr(err_msg(), "bit 1"), "rflags without bit 1: %s", err_msg());
	c.r.rflags = 0x2 | 1u << 15;
	ok(gdb_cpu_check(&c) == -EINVAL, "rflags with reserved bit 15");
	c.r.rflags = 0x2;
	c.r.rip = 0x0000800000000000ull;
	ok(gdb_cpu_check(&c) == -EINVAL && strstr(err_msg(), "canonical"), "a non-canonical rip: %s", err_msg());
	c.r.rip = 0x100000;
	c.s.gs.base = 0x1234000000000000ull;
	ok(gdb_cpu_check(&c) == -EINVAL, "a non-canonical gs_base");
	cpu_init(&c, false);
	c.r.rflags = 0x2 | 1ull << 40;
	ok(gdb_cpu_check(&c) == -EINVAL && strstr(err_msg(), "bit 40"), "the check names a reserved bit: %s", err_msg());
	c.r.rflags = 0x2;
	c.s.cr4 = 0x80000000ull;
	ok(gdb_cpu_check(&c) == -EINVAL && strstr(err_msg(), "cr4") && strstr(err_msg(), "bit 31"),
	   "the gdb stub's check is the engine's (cr4 reserved bits): %s", err_msg());
	c.s.cr4 = 0;
	ok(gdb_check_pc(&c.s, 0x100000000ull) == -EINVAL && gdb_check_pc(&c.s, 0xfffffff0ull) == 0,
	   "outside 64-bit code the pc has 32 bits");
	return tap_done();
}
