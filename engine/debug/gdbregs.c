/* gdbregs: registers as the gdb stub shows them (gdbregs.h). The x87 and SSE
 * registers come from the vCPU's FXSAVE image (struct kvm_fpu, as
 * cpu_get_fpu gives it) and go back through cpu_set_fpu; the x87 control registers follow gdb's reading
 * of that image: fioff/fiseg are the low and high halves of the 64-bit FPU
 * instruction pointer (bytes 8..15 of FXSAVE), fooff/foseg those of the data
 * pointer, and ftag is the full tag word gdb derives from the abridged one
 * and the register contents. */
#include "engine/debug/gdbregs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "engine/core/cpustate.h"
#include "engine/core/vm.h"
#include "util/err.h"

enum reg_kind { R_GPR, R_FLAGS, R_SEG, R_BASE, R_ST, R_FPU, R_XMM, R_MXCSR };

struct gdb_reg_desc {
	const char *name;
	int bits;
	enum reg_kind kind;
	size_t off;             /* R_GPR: offset in kvm_regs; R_SEG/R_BASE: offset in
				   kvm_sregs; R_ST/R_XMM: index; R_FPU: which control word */
	const char *type;
	const char *feature;    /* non-NULL: this register starts that feature */
};

enum { FCTRL, FSTAT, FTAG, FISEG, FIOFF, FOSEG, FOOFF, FOP };

#define CORE "org.gnu.gdb.i386.core"
#define GPR(n, f, b, t) { n, b, R_GPR, offsetof(struct kvm_regs, f), t, NULL }
#define SEG(n, f) { n, 32, R_SEG, offsetof(struct kvm_sregs, f), "int32", NULL }
#define ST(i) { "st" #i, 80, R_ST, i, "i387_ext", NULL }
#define X87_REGS \
	ST(0), ST(1), ST(2), ST(3), ST(4), ST(5), ST(6), ST(7), \
	{ "fctrl", 32, R_FPU, FCTRL, "int", NULL }, { "fstat", 32, R_FPU, FSTAT, "int", NULL }, \
	{ "ftag", 32, R_FPU, FTAG, "int", NULL }, { "fiseg", 32, R_FPU, FISEG, "int", NULL }, \
	{ "fioff", 32, R_FPU, FIOFF, "int", NULL }, { "foseg", 32, R_FPU, FOSEG, "int", NULL }, \
	{ "fooff", 32, R_FPU, FOOFF, "int", NULL }, { "fop", 32, R_FPU, FOP, "int", NULL }
#define SEGS SEG("cs", cs), SEG("ss", ss), SEG("ds", ds), SEG("es", es), SEG("fs", fs), SEG("gs", gs)
#define SSE "org.gnu.gdb.i386.sse"
#define XMM(i) { "xmm" #i, 128, R_XMM, i, "vec128", i == 0 ? SSE : NULL }
#define XMM8 XMM(0), XMM(1), XMM(2), XMM(3), XMM(4), XMM(5), XMM(6), XMM(7)
#define MXCSR { "mxcsr", 32, R_MXCSR, 0, "i386_mxcsr", NULL }

static const struct gdb_reg_desc regs64[] = {
	{ "rax", 64, R_GPR, offsetof(struct kvm_regs, rax), "int64", CORE },
	GPR("rbx", rbx, 64, "int64"), GPR("rcx", rcx, 64, "int64"),
	GPR("rdx", rdx, 64, "int64"), GPR("rsi", rsi, 64, "int64"), GPR("rdi", rdi, 64, "int64"),
	GPR("rbp", rbp, 64, "data_ptr"), GPR("rsp", rsp, 64, "data_ptr"),
	GPR("r8", r8, 64, "int64"), GPR("r9", r9, 64, "int64"), GPR("r10", r10, 64, "int64"),
	GPR("r11", r11, 64, "int64"), GPR("r12", r12, 64, "int64"), GPR("r13", r13, 64, "int64"),
	GPR("r14", r14, 64, "int64"), GPR("r15", r15, 64, "int64"),
	GPR("rip", rip, 64, "code_ptr"), { "eflags", 32, R_FLAGS, 0, "int32", NULL },
	SEGS, X87_REGS,
	{ "fs_base", 64, R_BASE, offsetof(struct kvm_sregs, fs.base), "int64", "org.gnu.gdb.i386.segments" },
	{ "gs_base", 64, R_BASE, offsetof(struct kvm_sregs, gs.base), "int64", NULL },
	XMM8, XMM(8), XMM(9), XMM(10), XMM(11), XMM(12), XMM(13), XMM(14), XMM(15), MXCSR,
};

static const struct gdb_reg_desc regs32[] = {
	{ "eax", 32, R_GPR, offsetof(struct kvm_regs, rax), "int32", CORE },
	GPR("ecx", rcx, 32, "int32"), GPR("edx", rdx, 32, "int32"),
	GPR("ebx", rbx, 32, "int32"), GPR("esp", rsp, 32, "data_ptr"), GPR("ebp", rbp, 32, "data_ptr"),
	GPR("esi", rsi, 32, "int32"), GPR("edi", rdi, 32, "int32"),
	GPR("eip", rip, 32, "code_ptr"), { "eflags", 32, R_FLAGS, 0, "int32", NULL },
	SEGS, X87_REGS, XMM8, MXCSR,
};

#define NREGS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* The types the SSE feature names, as in gdb's own 64bit-sse.xml. */
static const char sse_types[] =
	"<vector id=\"v4f\" type=\"ieee_single\" count=\"4\"/>"
	"<vector id=\"v2d\" type=\"ieee_double\" count=\"2\"/>"
	"<vector id=\"v16i8\" type=\"int8\" count=\"16\"/>"
	"<vector id=\"v8i16\" type=\"int16\" count=\"8\"/>"
	"<vector id=\"v4i32\" type=\"int32\" count=\"4\"/>"
	"<vector id=\"v2i64\" type=\"int64\" count=\"2\"/>"
	"<union id=\"vec128\"><field name=\"v4_float\" type=\"v4f\"/>"
	"<field name=\"v2_double\" type=\"v2d\"/><field name=\"v16_int8\" type=\"v16i8\"/>"
	"<field name=\"v8_int16\" type=\"v8i16\"/><field name=\"v4_int32\" type=\"v4i32\"/>"
	"<field name=\"v2_int64\" type=\"v2i64\"/><field name=\"uint128\" type=\"uint128\"/></union>"
	"<flags id=\"i386_mxcsr\" size=\"4\"><field name=\"IE\" start=\"0\" end=\"0\"/>"
	"<field name=\"DE\" start=\"1\" end=\"1\"/><field name=\"ZE\" start=\"2\" end=\"2\"/>"
	"<field name=\"OE\" start=\"3\" end=\"3\"/><field name=\"UE\" start=\"4\" end=\"4\"/>"
	"<field name=\"PE\" start=\"5\" end=\"5\"/><field name=\"DAZ\" start=\"6\" end=\"6\"/>"
	"<field name=\"IM\" start=\"7\" end=\"7\"/><field name=\"DM\" start=\"8\" end=\"8\"/>"
	"<field name=\"ZM\" start=\"9\" end=\"9\"/><field name=\"OM\" start=\"10\" end=\"10\"/>"
	"<field name=\"UM\" start=\"11\" end=\"11\"/><field name=\"PM\" start=\"12\" end=\"12\"/>"
	"<field name=\"FZ\" start=\"15\" end=\"15\"/></flags>";

static void build_xml(struct gdb_layout *l)
{
	size_t n = 0, cap = sizeof(l->xml);
#define ADD(...) do { if (n < cap) n += (size_t)snprintf(l->xml + n, cap - n, __VA_ARGS__); } while (0)
	ADD("<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM \"gdb-target.dtd\">"
	    "<target version=\"1.0\"><architecture>%s</architecture>",
	    l->long_mode ? "i386:x86-64" : "i386");
	for (int i = 0; i < l->nregs; i++) {
		const struct gdb_reg_desc *d = &l->regs[i];
		if (d->feature)
			ADD("%s<feature name=\"%s\">%s", i ? "</feature>" : "", d->feature,
			    strcmp(d->feature, SSE) == 0 ? sse_types : "");
		ADD("<reg name=\"%s\" bitsize=\"%d\" type=\"%s\"%s/>", d->name, d->bits, d->type,
		    d->kind == R_FPU ? " group=\"float\"" : d->kind == R_MXCSR ? " group=\"vector\"" : "");
	}
	ADD("</feature></target>");
#undef ADD
	l->xml_len = n < cap ? n : cap - 1;
}

void gdb_layout_init(struct gdb_layout *l, bool long_mode)
{
	l->long_mode = long_mode;
	l->regs = long_mode ? regs64 : regs32;
	l->nregs = long_mode ? NREGS(regs64) : NREGS(regs32);
	l->pc_reg = long_mode ? 16 : 8;
	l->sp_reg = long_mode ? 7 : 4;
	l->fp_reg = long_mode ? 6 : 5;
	l->g_size = 0;
	for (int i = 0; i < l->nregs; i++)
		l->g_size += (size_t)l->regs[i].bits / 8;
	build_xml(l);
}

int gdb_reg_size(const struct gdb_layout *l, int n)
{
	return n >= 0 && n < l->nregs ? l->regs[n].bits / 8 : 0;
}

/* ---- x87 ---- */

/* gdb's tag of physical register `phys` (0 valid, 1 zero, 2 special, 3
 * empty) from the abridged tag bit and the register's contents. */
static unsigned x87_tag(const struct kvm_fpu *f, int phys)
{
	if (!((f->ftwx >> phys) & 1))
		return 3;
	int top = (f->fsw >> 11) & 7;
	const uint8_t *raw = f->fpr[(phys - top) & 7];
	unsigned exp = (unsigned)(raw[9] & 0x7f) << 8 | raw[8];
	bool integer = raw[7] & 0x80;
	uint64_t mant;
	memcpy(&mant, raw, 8);
	if (exp == 0x7fff)
		return 2;
	if (exp == 0)
		return mant == 0 ? 1 : 2;
	return integer ? 0 : 2;
}

static uint64_t fpu_word(const struct kvm_fpu *f, size_t which)
{
	uint64_t tag = 0;
	switch (which) {
	case FCTRL: return f->fcw;
	case FSTAT: return f->fsw;
	case FTAG:
		for (int i = 0; i < 8; i++)
			tag |= (uint64_t)x87_tag(f, i) << (2 * i);
		return tag;
	case FISEG: return f->last_ip >> 32;
	case FIOFF: return (uint32_t)f->last_ip;
	case FOSEG: return f->last_dp >> 32;
	case FOOFF: return (uint32_t)f->last_dp;
	case FOP: return f->last_opcode;
	default: return 0;
	}
}

static int set_fpu_word(struct kvm_fpu *f, size_t which, uint32_t v)
{
	static const char *const names[] = { "fctrl", "fstat", "ftag", "", "", "", "", "fop" };
	uint32_t max = which == FOP ? 0x7ff : 0xffff;
	if (which != FISEG && which != FIOFF && which != FOSEG && which != FOOFF && v > max)
		return err_set(-EINVAL, "%s is %u bits wide: 0x%" PRIx32 " does not fit",
			       names[which], which == FOP ? 11 : 16, v);
	switch (which) {
	case FCTRL: f->fcw = (uint16_t)v; break;
	case FSTAT: f->fsw = (uint16_t)v; break;
	case FTAG: /* the abridged tag keeps only empty (3) or not */
		f->ftwx = 0;
		for (int i = 0; i < 8; i++)
			if (((v >> (2 * i)) & 3) != 3)
				f->ftwx |= (uint8_t)(1u << i);
		break;
	case FISEG: f->last_ip = (f->last_ip & 0xffffffffull) | (uint64_t)v << 32; break;
	case FIOFF: f->last_ip = (f->last_ip & ~0xffffffffull) | v; break;
	case FOSEG: f->last_dp = (f->last_dp & 0xffffffffull) | (uint64_t)v << 32; break;
	case FOOFF: f->last_dp = (f->last_dp & ~0xffffffffull) | v; break;
	case FOP: f->last_opcode = (uint16_t)v; break;
	}
	return 0;
}

/* ---- one register ---- */

int gdb_reg_get(const struct gdb_layout *l, int n, const struct gdb_cpu *c, uint8_t *out)
{
	if (n < 0 || n >= l->nregs)
		return 0;
	const struct gdb_reg_desc *d = &l->regs[n];
	uint64_t v = 0;
	int size = d->bits / 8;
	switch (d->kind) {
	case R_GPR: memcpy(&v, (const char *)&c->r + d->off, 8); break;
	case R_FLAGS: v = c->r.rflags; break;
	case R_SEG: memcpy(&v, (const char *)&c->s + d->off + offsetof(struct kvm_segment, selector), 2); break;
	case R_BASE: memcpy(&v, (const char *)&c->s + d->off, 8); break;
	case R_FPU: v = fpu_word(&c->f, d->off); break;
	case R_MXCSR: v = c->f.mxcsr; break;
	case R_ST: memcpy(out, c->f.fpr[d->off], 10); return size;
	case R_XMM: memcpy(out, c->f.xmm[d->off], 16); return size;
	}
	memcpy(out, &v, (size_t)size); /* x86 is little-endian, as gdb wants */
	return size;
}

int gdb_reg_set(const struct gdb_layout *l, int n, struct gdb_cpu *c, const uint8_t *in)
{
	if (n < 0 || n >= l->nregs)
		return err_set(-EINVAL, "no register %d", n);
	const struct gdb_reg_desc *d = &l->regs[n];
	bool fpu = d->kind == R_ST || d->kind == R_XMM || d->kind == R_FPU || d->kind == R_MXCSR;
	if (fpu && !c->have_fpu)
		return err_set(-EIO, "the FPU registers of this vCPU cannot be read, so %s cannot be set", d->name);
	uint64_t v = 0;
	if (d->bits <= 64)
		memcpy(&v, in, (size_t)d->bits / 8);
	switch (d->kind) {
	case R_GPR: memcpy((char *)&c->r + d->off, &v, (size_t)d->bits / 8); return 0;
	case R_FLAGS: c->r.rflags = (c->r.rflags & ~0xffffffffull) | v; return 0;
	case R_BASE: memcpy((char *)&c->s + d->off, &v, 8); return 0;
	case R_SEG: {
		struct kvm_segment *seg = (struct kvm_segment *)((char *)&c->s + d->off);
		if (seg->selector == (uint16_t)v && v <= 0xffff)
			return 0;
		if (v > 0xffff)
			return err_set(-EINVAL, "%s is a 16-bit selector: 0x%" PRIx64 " does not fit", d->name, v);
		if (c->s.cr0 & 1) /* would need a descriptor load from the GDT */
			return err_set(-EINVAL, "segment registers can only be changed in real mode");
		seg->selector = (uint16_t)v;
		seg->base = (uint64_t)(uint16_t)v << 4;
		return 0;
	}
	case R_ST: memcpy(c->f.fpr[d->off], in, 10); break;
	case R_XMM: memcpy(c->f.xmm[d->off], in, 16); break;
	case R_MXCSR: c->f.mxcsr = (uint32_t)v; break;
	case R_FPU: {
		int r = set_fpu_word(&c->f, d->off, (uint32_t)v);
		if (r < 0)
			return r;
		break;
	}
	}
	c->fpu_dirty = true;
	return 0;
}

/* ---- checks ---- */

int gdb_check_pc(const struct kvm_sregs *s, uint64_t pc)
{
	return vm_check_rip(s, pc);
}

int gdb_cpu_check(const struct gdb_cpu *c)
{
	/* the engine's own checks, the same the Lua setters pass */
	int r = vm_check_regs(&c->r, &c->s);
	if (r == 0)
		r = vm_check_sregs(&c->s);
	if (r < 0)
		return r;
	if (c->have_fpu && (c->f.mxcsr >> 16))
		return err_set(-EINVAL, "mxcsr 0x%" PRIx32 ": bits 31..16 are reserved and must be 0", c->f.mxcsr);
	return 0;
}

/* ---- the vCPU ---- */

static bool fpu_same(const struct kvm_fpu *a, const struct kvm_fpu *b, const char **what)
{
	*what = NULL;
	for (int i = 0; i < 8 && !*what; i++)
		if (memcmp(a->fpr[i], b->fpr[i], 10) != 0)
			*what = "the x87 registers";
	for (int i = 0; i < 16 && !*what; i++)
		if (memcmp(a->xmm[i], b->xmm[i], 16) != 0)
			*what = "the xmm registers";
	if (!*what && a->mxcsr != b->mxcsr)
		*what = "mxcsr";
	if (!*what && (a->fcw != b->fcw || a->fsw != b->fsw || a->ftwx != b->ftwx ||
		       a->last_opcode != b->last_opcode || a->last_ip != b->last_ip || a->last_dp != b->last_dp))
		*what = "the x87 control registers";
	return *what == NULL;
}

int gdb_cpu_read(struct vm *vm, int vcpu, struct gdb_cpu *c)
{
	int r = vm_get_regs(vm, vcpu, &c->r);
	if (r == 0)
		r = vm_get_sregs(vm, vcpu, &c->s);
	c->have_fpu = r == 0 && cpu_get_fpu(vm, vcpu, &c->f) == 0;
	c->fpu_dirty = false;
	if (!c->have_fpu)
		memset(&c->f, 0, sizeof(c->f));
	return r;
}

/* Writes the FPU and reads it back. cpu_set_fpu goes through XSAVE, which
 * keeps every field on kvm and soft; an accelerator that still drops one
 * gets its old state back and the stub names what was lost rather than
 * pretending the write took. */
static int write_fpu(struct vm *vm, int vcpu, const struct kvm_fpu *f, const struct kvm_fpu *old)
{
	struct kvm_fpu now;
	const char *what;
	int r = cpu_set_fpu(vm, vcpu, f);
	if (r == 0)
		r = cpu_get_fpu(vm, vcpu, &now);
	if (r == 0 && !fpu_same(&now, f, &what)) {
		cpu_set_fpu(vm, vcpu, old);
		r = err_set(-EIO, "the accelerator did not keep the write of %s", what);
	}
	return r;
}

/* All or nothing (a G sets every register): the FPU, the part that may be
 * refused after the checks, goes first and is put back if the rest fails. */
int gdb_cpu_write(struct vm *vm, int vcpu, struct gdb_cpu *c)
{
	int r = gdb_cpu_check(c);
	struct kvm_fpu old;
	bool fpu = r == 0 && c->fpu_dirty;
	if (fpu)
		r = cpu_get_fpu(vm, vcpu, &old);
	if (fpu && r == 0)
		r = write_fpu(vm, vcpu, &c->f, &old);
	if (r == 0) {
		r = vm_set_cpu(vm, vcpu, &c->r, &c->s);
		if (r < 0 && fpu)
			cpu_set_fpu(vm, vcpu, &old);
	}
	if (r == 0)
		c->fpu_dirty = false;
	return r;
}
