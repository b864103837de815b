/* boot: turns a boot plan into the CPU state a program expects at its first
 * instruction. Real mode needs only segment registers; protected mode needs a GDT
 * the guest can reload its selectors from; long mode needs that GDT plus page
 * tables, because the CPU cannot run 64-bit code with paging off. Everything is
 * written into the reserved low area [BOOT_AREA_START, BOOT_AREA_END) so loaders
 * know which bytes to keep free. No ioctl happens here: the caller applies the
 * register structs, which keeps this testable on a plain buffer.
 *
 * Page-table layout in long mode: PML4 at BOOT_PT_ADDR, then the four page
 * directories, then the PDPT in the last page. The default stack starts at
 * BOOT_AREA_END and grows down into that last page; putting the PDPT there means
 * the first ~4 KiB of pushes land on PDPT entries 4..511, which nothing uses,
 * instead of on the page-directory entries that map 3-4 GiB (LAPIC, IOAPIC). */
#include "engine/boot/boot.h"

#include <errno.h>
#include <string.h>

#include "util/err.h"

#define CR0_PE  0x1ull
#define CR0_ET  0x10ull
#define CR0_WP  0x10000ull
#define CR0_PG  0x80000000ull
#define CR4_PAE 0x20ull
#define EFER_LME 0x100ull
#define EFER_LMA 0x400ull

#define PTE_P   0x1ull
#define PTE_RW  0x2ull
#define PTE_PS  0x80ull

#define SEL_CODE   0x08
#define SEL_DATA   0x10
#define SEL_CODE32 0x18
#define SEL_LINUX_CS 0x10
#define SEL_LINUX_DS 0x18

/* Access byte 0x9b / 0x93 keep the accessed bit set, so the CPU never has to
 * write the GDT when the guest loads a selector. */
#define GDT_CODE32 0x00cf9b000000ffffull
#define GDT_CODE64 0x00af9b000000ffffull
#define GDT_DATA   0x00cf93000000ffffull

#define PT_PML4 (BOOT_PT_ADDR)
#define PT_PD0  (BOOT_PT_ADDR + 0x1000)
#define PT_PDPT (BOOT_PT_ADDR + 0x5000)

static void put64(struct guest_ram *ram, uint64_t gpa, uint64_t v)
{
	memcpy(ram->host + gpa, &v, sizeof(v));
}

static void seg_set(struct kvm_segment *s, uint16_t sel, uint64_t base, uint32_t limit,
		    uint8_t type, int db, int g, int l)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->base = base;
	s->limit = limit;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->db = db;
	s->g = g;
	s->l = l;
}

static void data_segs(struct kvm_sregs *sr, uint16_t sel, uint32_t limit, int db, int g)
{
	seg_set(&sr->ds, sel, 0, limit, 0x3, db, g, 0);
	sr->es = sr->fs = sr->gs = sr->ss = sr->ds;
}

static int real_mode(const struct boot_plan *plan, struct kvm_regs *regs, struct kvm_sregs *sr)
{
	uint64_t stack = plan->stack ? plan->stack : BOOT_DEFAULT_STACK;
	uint16_t cs = 0;

	if (plan->entry > 0xfffff)
		return err_set(-EINVAL, "real-mode entry 0x%llx is above 1 MiB: CS:IP cannot reach it",
			       (unsigned long long)plan->entry);
	if (stack > 0x10000)
		return err_set(-EINVAL, "real-mode stack 0x%llx is above 64 KiB: SS is 0, SP cannot reach it",
			       (unsigned long long)stack);
	if (plan->entry > 0xffff)
		cs = (uint16_t)(plan->entry >> 4);
	seg_set(&sr->cs, cs, (uint64_t)cs << 4, 0xffff, 0xb, 0, 0, 0);
	data_segs(sr, 0, 0xffff, 0, 0);
	sr->cr0 &= ~(CR0_PE | CR0_PG);
	sr->cr4 &= ~CR4_PAE;
	sr->efer = 0;
	regs->rip = plan->entry - ((uint64_t)cs << 4);
	regs->rsp = stack & 0xffff;
	return 0;
}

static void write_gdt(struct guest_ram *ram, struct kvm_sregs *sr, const uint64_t *d, int n)
{
	for (int i = 0; i < n; i++)
		put64(ram, BOOT_GDT_ADDR + 8 * (uint64_t)i, d[i]);
	sr->gdt.base = BOOT_GDT_ADDR;
	sr->gdt.limit = (uint16_t)(8 * n - 1);
}

static int prot_mode(struct guest_ram *ram, const struct boot_plan *plan,
		     struct kvm_regs *regs, struct kvm_sregs *sr)
{
	static const uint64_t gdt[] = { 0, GDT_CODE32, GDT_DATA };

	if (plan->entry > 0xffffffffull || plan->stack > 0x100000000ull)
		return err_set(-EINVAL, "32-bit entry 0x%llx or stack 0x%llx is above 4 GiB",
			       (unsigned long long)plan->entry, (unsigned long long)plan->stack);
	write_gdt(ram, sr, gdt, 3);
	seg_set(&sr->cs, SEL_CODE, 0, 0xffffffff, 0xb, 1, 1, 0);
	data_segs(sr, SEL_DATA, 0xffffffff, 1, 1);
	sr->cr0 = CR0_PE | CR0_ET;
	sr->cr4 = 0;
	sr->efer = 0;
	regs->rip = plan->entry;
	return 0;
}

static void write_page_tables(struct guest_ram *ram)
{
	memset(ram->host + BOOT_PT_ADDR, 0, BOOT_AREA_END - BOOT_PT_ADDR);
	put64(ram, PT_PML4, PT_PDPT | PTE_P | PTE_RW);
	for (uint64_t i = 0; i < 4; i++) {
		uint64_t pd = PT_PD0 + i * 0x1000;
		put64(ram, PT_PDPT + i * 8, pd | PTE_P | PTE_RW);
		for (uint64_t j = 0; j < 512; j++) {
			uint64_t phys = (i << 30) | (j << 21);
			put64(ram, pd + j * 8, phys | PTE_P | PTE_RW | PTE_PS);
		}
	}
}

static int long_mode(struct guest_ram *ram, const struct boot_plan *plan,
		     struct kvm_regs *regs, struct kvm_sregs *sr)
{
	static const uint64_t gdt[] = { 0, GDT_CODE64, GDT_DATA, GDT_CODE32 };
	/* Documentation/x86/boot.rst, 64-bit boot protocol: entry 2 code, 3 data. */
	static const uint64_t linux_gdt[] = { 0, 0, GDT_CODE64, GDT_DATA };
	bool lx = plan->linux_selectors;

	write_gdt(ram, sr, lx ? linux_gdt : gdt, 4);
	write_page_tables(ram);
	seg_set(&sr->cs, lx ? SEL_LINUX_CS : SEL_CODE, 0, 0xffffffff, 0xb, 0, 1, 1);
	data_segs(sr, lx ? SEL_LINUX_DS : SEL_DATA, 0xffffffff, 1, 1);
	sr->cr3 = PT_PML4;
	sr->cr4 = CR4_PAE;
	sr->cr0 = CR0_PE | CR0_ET | CR0_WP | CR0_PG;
	sr->efer = EFER_LME | EFER_LMA;
	regs->rip = plan->entry;
	return 0;
}

int boot_prepare(struct guest_ram *ram, const struct boot_plan *plan,
		 struct kvm_regs *regs, struct kvm_sregs *sregs)
{
	int rc;

	if (!ram || !ram->host || !plan || !regs || !sregs)
		return err_set(-EINVAL, "boot_prepare: missing argument");
	if (plan->mode != MODE_REAL16 && plan->mode != MODE_PROT32 && plan->mode != MODE_LONG64)
		return err_set(-EINVAL, "unknown CPU mode %d", (int)plan->mode);
	if (plan->mode != MODE_REAL16 &&
	    !guest_range_ok(ram, BOOT_AREA_START, BOOT_AREA_END - BOOT_AREA_START))
		return err_set(-EINVAL, "guest RAM (%llu bytes) does not hold the boot area 0x%llx - 0x%llx",
			       (unsigned long long)ram->size, BOOT_AREA_START, BOOT_AREA_END);

	memset(regs, 0, sizeof(*regs));
	if (plan->mode == MODE_REAL16)
		rc = real_mode(plan, regs, sregs);
	else if (plan->mode == MODE_PROT32)
		rc = prot_mode(ram, plan, regs, sregs);
	else
		rc = long_mode(ram, plan, regs, sregs);
	if (rc < 0)
		return rc;
	if (plan->mode != MODE_REAL16)
		regs->rsp = plan->stack ? plan->stack : BOOT_DEFAULT_STACK;
	regs->rax = plan->rax;
	regs->rbx = plan->rbx;
	regs->rsi = plan->rsi;
	regs->rflags = 0x2;
	return 0;
}

const char *boot_mode_name(enum cpu_mode mode)
{
	switch (mode) {
	case MODE_REAL16: return "real16";
	case MODE_PROT32: return "prot32";
	case MODE_LONG64: return "long64";
	}
	return "unknown";
}
