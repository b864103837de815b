/* regcheck: the one check every way of setting registers goes through (the
 * Lua fields and vm:setcpu, the gdb stub, the loaders): the values an x86
 * CPU would refuse or silently drop are refused here, with the register and
 * the bits named, before the accelerator sees them (vm.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "engine/core/vm.h"
#include "util/err.h"

#define RFLAGS_FIXED1 (1ull << 1)
#define RFLAGS_RESERVED ((1ull << 3) | (1ull << 5) | (1ull << 15) | ~0x3fffffull)
/* PE MP EM TS ET NE WP AM NW CD PG */
#define CR0_KNOWN 0xe005003full
/* VME PVI TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT UMIP LA57 VMXE SMXE
 * FSGSBASE PCIDE OSXSAVE KL SMEP SMAP PKE CET PKS UINTR */
#define CR4_KNOWN 0x03ff7fffull
/* SCE LME LMA NXE SVME LMSLE FFXSR TCE */
#define EFER_KNOWN 0xfd01ull
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)

bool vm_canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

void vm_bits_text(uint64_t bits, char *buf, size_t cap)
{
	size_t n = 0;
	buf[0] = '\0';
	for (int i = 63; i >= 0 && n < cap; i--) {
		if (!((bits >> i) & 1))
			continue;
		int lo = i;
		while (lo > 0 && ((bits >> (lo - 1)) & 1))
			lo--;
		if (lo == i)
			n += (size_t)snprintf(buf + n, cap - n, "%s%d", n ? ", " : "", i);
		else
			n += (size_t)snprintf(buf + n, cap - n, "%s%d..%d", n ? ", " : "", i, lo);
		i = lo;
	}
}

/* "cr4 0x80000000: bit 31 is reserved" */
static int bad_bits(const char *reg, uint64_t v, uint64_t bits, const char *why)
{
	char b[160];
	vm_bits_text(bits, b, sizeof(b));
	return err_set(-EINVAL, "%s 0x%" PRIx64 ": bit%s %s %s", reg, v,
		       (bits & (bits - 1)) ? "s" : "", b, why);
}

static bool code64(const struct kvm_sregs *s)
{
	return (s->efer & EFER_LMA) && s->cs.l;
}

int vm_check_rip(const struct kvm_sregs *s, uint64_t rip)
{
	if (code64(s) && !vm_canonical(rip))
		return err_set(-EINVAL, "rip 0x%" PRIx64 " is not a canonical address: bits 63..47 must all be equal",
			       rip);
	if (!code64(s) && rip > 0xffffffffull)
		return err_set(-EINVAL, "rip 0x%" PRIx64 " does not fit the 32-bit instruction pointer of %s mode",
			       rip, !(s->cr0 & 1) ? "real" : (s->efer & EFER_LMA) ? "compatibility" : "protected");
	return 0;
}

int vm_check_regs(const struct kvm_regs *r, const struct kvm_sregs *s)
{
	uint64_t f = r->rflags;
	if (f & RFLAGS_RESERVED)
		return bad_bits("rflags", f, f & RFLAGS_RESERVED, "must be 0 (reserved)");
	if (!(f & RFLAGS_FIXED1))
		return err_set(-EINVAL, "rflags 0x%" PRIx64 ": bit 1 must be 1", f);
	return s ? vm_check_rip(s, r->rip) : 0;
}

static int check_base(const char *name, uint64_t base)
{
	if (!vm_canonical(base))
		return err_set(-EINVAL, "%s.base 0x%" PRIx64 " is not a canonical address: bits 63..47 must all "
			       "be equal", name, base);
	return 0;
}

int vm_check_sregs(const struct kvm_sregs *s)
{
	int r;
	if (s->cr0 & ~CR0_KNOWN)
		return bad_bits("cr0", s->cr0, s->cr0 & ~CR0_KNOWN, "must be 0 (reserved)");
	if ((s->cr0 & (1ull << 31)) && !(s->cr0 & 1))
		return err_set(-EINVAL, "cr0 0x%" PRIx64 ": PG (bit 31) needs PE (bit 0): paging exists only in "
			       "protected mode", (uint64_t)s->cr0);
	if ((s->cr0 & (1ull << 29)) && !(s->cr0 & (1ull << 30)))
		return err_set(-EINVAL, "cr0 0x%" PRIx64 ": NW (bit 29) without CD (bit 30) is invalid",
			       (uint64_t)s->cr0);
	if (s->cr4 & ~CR4_KNOWN)
		return bad_bits("cr4", s->cr4, s->cr4 & ~CR4_KNOWN, "must be 0 (reserved)");
	if (s->cr8 > 15)
		return bad_bits("cr8", s->cr8, s->cr8 & ~15ull, "must be 0 (the task priority has 4 bits)");
	if (s->efer & ~EFER_KNOWN)
		return bad_bits("efer", s->efer, s->efer & ~EFER_KNOWN, "must be 0 (reserved)");
	bool lma = (s->efer & EFER_LME) && (s->cr0 & (1ull << 31));
	if (!!(s->efer & EFER_LMA) != lma)
		return err_set(-EINVAL, "efer 0x%" PRIx64 ": LMA (bit 10) must be %s: the CPU sets it exactly when "
			       "LME (bit 8) and CR0.PG are both set", (uint64_t)s->efer, lma ? "1" : "0");
	if (lma && !(s->cr4 & (1ull << 5)))
		return err_set(-EINVAL, "cr4 0x%" PRIx64 ": long mode needs PAE (bit 5)", (uint64_t)s->cr4);
	if ((r = check_base("fs", s->fs.base)) < 0 || (r = check_base("gs", s->gs.base)) < 0 ||
	    (r = check_base("tr", s->tr.base)) < 0 || (r = check_base("ldt", s->ldt.base)) < 0 ||
	    (r = check_base("gdtr", s->gdt.base)) < 0 || (r = check_base("idtr", s->idt.base)) < 0)
		return r;
	if (s->cs.l && s->cs.db)
		return err_set(-EINVAL, "cs: L and DB cannot both be set (64-bit code has no 32-bit default)");
	if ((s->cr0 & 1) && !s->ss.unusable && s->ss.dpl != s->cs.dpl)
		return err_set(-EINVAL, "ss.dpl %u must equal cs.dpl %u (both are the privilege level the CPU "
			       "runs at)", s->ss.dpl, s->cs.dpl);
	return 0;
}

/* What the accelerator kept of a write, compared with what was written. */
static int dropped(const char *reg, uint64_t want, uint64_t got)
{
	char b[160];
	vm_bits_text(want ^ got, b, sizeof(b));
	return err_set(-EIO, "the accelerator did not keep %s = 0x%" PRIx64 ": it reads back 0x%" PRIx64
		       " (bits that differ: %s); the registers were left as they were", reg, want, got, b);
}

int vm_regs_readback(const struct kvm_regs *want, const struct kvm_regs *got)
{
	if (want->rip != got->rip)
		return dropped("rip", want->rip, got->rip);
	if (want->rflags != got->rflags)
		return dropped("rflags", want->rflags, got->rflags);
	return 0;
}

int vm_sregs_readback(const struct kvm_sregs *want, const struct kvm_sregs *got)
{
	const struct { const char *k; uint64_t a, b, ignore; } v[] = {
		{ "cr0", want->cr0, got->cr0, 1ull << 4 /* ET: the CPU keeps it set */ },
		{ "cr3", want->cr3, got->cr3, 0 }, { "cr4", want->cr4, got->cr4, 0 },
		{ "cr8", want->cr8, got->cr8, 0 }, { "efer", want->efer, got->efer, 0 },
		{ "fs.base", want->fs.base, got->fs.base, 0 }, { "gs.base", want->gs.base, got->gs.base, 0 },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if ((v[i].a ^ v[i].b) & ~v[i].ignore)
			return dropped(v[i].k, v[i].a, v[i].b);
	return 0;
}
