/* test_mmu: page-table walks over tables built by hand in a buffer that
 * stands for guest RAM: 32-bit paging with 4 KiB and 4 MiB pages, PAE,
 * 4-level long mode with 4 KiB, 2 MiB and 1 GiB pages, 5-level, a
 * non-present entry at each level, the combined RW/US/NX rights, and
 * virtual reads and writes crossing pages (into an unmapped one too). */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "util/err.h"
#include "engine/debug/mmu.h"
#include "tap.h"

#define RAM_SIZE (1u << 20)
static uint8_t ram[RAM_SIZE];

static int rd(void *opaque, uint64_t pa, void *buf, size_t len)
{
	(void)opaque;
	if (pa > RAM_SIZE || len > RAM_SIZE - pa)
		return err_set(-EFAULT, "0x%llx outside RAM", (unsigned long long)pa);
	memcpy(buf, ram + pa, len);
	return 0;
}

static int wr(void *opaque, uint64_t pa, const void *buf, size_t len)
{
	(void)opaque;
	if (pa > RAM_SIZE || len > RAM_SIZE - pa)
		return err_set(-EFAULT, "0x%llx outside RAM", (unsigned long long)pa);
	memcpy(ram + pa, buf, len);
	return 0;
}

static void put64(uint64_t pa, unsigned idx, uint64_t v) { memcpy(ram + pa + idx * 8, &v, 8); }
static void put32(uint64_t pa, unsigned idx, uint32_t v) { memcpy(ram + pa + idx * 4, &v, 4); }

#define P 1ull
#define RW 2ull
#define US 4ull
#define PS 0x80ull
#define NX (1ull << 63)
#define CR0_PG (1ull << 31)
#define CR0_PE 1ull
#define CR4_PSE (1ull << 4)
#define CR4_PAE (1ull << 5)
#define CR4_LA57 (1ull << 12)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

static struct mmu_ctx ctx_of(uint64_t cr0, uint64_t cr3, uint64_t cr4, uint64_t efer)
{
	return (struct mmu_ctx){ cr0, cr3, cr4, efer, rd, wr, NULL };
}

static void test_paging_off(void)
{
	struct mmu_ctx c = ctx_of(CR0_PE, 0, 0, 0);
	struct mmu_walk w;
	is_int(mmu_walk_va(&c, 0x7c00, &w), 0, "paging off: translates");
	is_int(w.pa, 0x7c00, "paging off: linear = physical");
	is_int(w.nlevels, 0, "paging off: no levels");
	is_str(mmu_mode_name(w.mode), "paging off", "mode name");
}

static void test_32bit(void)
{
	memset(ram, 0, sizeof(ram));
	/* PD at 0x1000; PDE 0 -> PT at 0x2000; PDE 1 a 4 MiB page at 0x00c00000 with
	 * PSE-36 high bits 0x3 (PA 0x3_00c00000); PT entry 5 -> 0x9000 read-only user. */
	put32(0x1000, 0, 0x2000 | P | RW | US);
	put32(0x1000, 1, 0x00c00000 | (3u << 13) | P | RW | PS);
	put32(0x2000, 5, 0x9000 | P | US | 0x20);
	struct mmu_ctx c = ctx_of(CR0_PE | CR0_PG, 0x1000, CR4_PSE, 0);
	struct mmu_walk w;
	is_int(mmu_walk_va(&c, 0x5123, &w), 0, "32-bit 4K: mapped");
	is_int(w.pa, 0x9123, "32-bit 4K: physical address");
	is_int(w.nlevels, 2, "32-bit 4K: two levels");
	is_str(w.level[0].name, "PD", "level 0 is the PD");
	is_str(w.level[1].name, "PT", "level 1 is the PT");
	is_int(w.level[1].index, 5, "PT index 5");
	is_int(w.level[1].table, 0x2000, "PT table address");
	ok(!w.writable && w.user, "PT entry without RW: read-only, user");
	char flags[64];
	mmu_flags_str(w.level[1].flags, flags, sizeof(flags));
	is_str(flags, "P US A", "decoded flags of the PT entry");
	is_int(mmu_walk_va(&c, 0x00412345, &w), 0, "32-bit 4M: mapped");
	is_int(w.pa, 0x300c12345ull, "32-bit 4M: PSE-36 physical address");
	is_int(w.page_size, 4u << 20, "32-bit 4M: page size");
	ok(w.level[0].leaf && (w.level[0].flags & MMU_F_PS), "the PD entry is the leaf, PS set");
	ok(w.writable && !w.user, "4M page: writable, supervisor");
	is_int(mmu_walk_va(&c, 0x00800000, &w), -EFAULT, "32-bit: PDE 2 not present");
	is_int(w.fail_level, 0, "fails at the PD");
	is_int(mmu_walk_va(&c, 0x6000, &w), -EFAULT, "32-bit: PTE 6 not present");
	is_int(w.fail_level, 1, "fails at the PT");
	ok(strstr(err_msg(), "PT entry 6") != NULL, "message names the level: %s", err_msg());
	c.cr4 = 0;   /* without CR4.PSE the PS bit is ignored: 0x00c00000 is a PT address */
	is_int(mmu_walk_va(&c, 0x00412345, &w), -EFAULT, "without PSE the PD entry points at a table");
	is_int(w.nlevels, 2, "and the walk goes on to a PT");
}

static void test_pae(void)
{
	memset(ram, 0, sizeof(ram));
	/* PDPT at 0x1020 (32-byte aligned), PDPTE 1 -> PD 0x3000; PD 2 -> 2 MiB at
	 * 0x40000000 NX; PD 3 -> PT 0x4000, PT 0x10 -> 0xabc000. */
	put64(0x1020, 1, 0x3000 | P);
	put64(0x3000, 2, 0x40000000ull | P | RW | PS | NX);
	put64(0x3000, 3, 0x4000 | P | RW | US);
	put64(0x4000, 0x10, 0xabc000 | P | RW | US);
	struct mmu_ctx c = ctx_of(CR0_PE | CR0_PG, 0x1020, CR4_PAE, EFER_NXE);
	struct mmu_walk w;
	uint64_t va = (1ull << 30) | (2ull << 21) | 0x1234;
	is_int(mmu_walk_va(&c, va, &w), 0, "PAE 2M: mapped");
	is_int(w.pa, 0x40001234, "PAE 2M: physical");
	is_int(w.page_size, 2u << 20, "PAE 2M: page size");
	ok(w.nx && w.writable && !w.user, "PAE 2M: NX, writable, supervisor (PDPTE rights ignored)");
	va = (1ull << 30) | (3ull << 21) | (0x10 << 12) | 0x42;
	is_int(mmu_walk_va(&c, va, &w), 0, "PAE 4K: mapped");
	is_int(w.pa, 0xabc042, "PAE 4K: physical");
	is_int(w.nlevels, 3, "PAE: three levels");
	is_str(w.level[0].name, "PDPT", "PAE level 0 is the PDPT");
	ok(!w.nx && w.user, "PAE 4K: executable, user");
	is_int(mmu_walk_va(&c, 0, &w), -EFAULT, "PAE: PDPTE 0 not present");
	is_int(w.fail_level, 0, "fails at the PDPT");
	is_int(mmu_walk_va(&c, 0x1ull << 32, &w), -EFAULT, "PAE: above 4 GiB is not a 32-bit address");
}

/* 4-level tables: PML4 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000. */
static void build_long4(void)
{
	memset(ram, 0, sizeof(ram));
	put64(0x1000, 0, 0x2000 | P | RW | US);
	put64(0x1000, 511, 0x2000 | P | RW);                   /* kernel half shares the PDPT */
	put64(0x2000, 0, 0x3000 | P | RW | US);
	put64(0x2000, 1, 0x80000000ull | P | RW | PS);         /* 1 GiB page */
	put64(0x3000, 0, 0x4000 | P | RW | US);
	put64(0x3000, 1, 0x200000 | P | PS | US | 0x100);      /* 2 MiB, global, read-only */
	put64(0x4000, 0x10, 0x10000 | P | RW | US | NX);
	put64(0x4000, 0x11, 0x20000 | P | RW | US);
	/* 0x12000 (PT entry 0x12) stays unmapped */
}

static void test_long4(void)
{
	build_long4();
	struct mmu_ctx c = ctx_of(CR0_PE | CR0_PG, 0x1000, CR4_PAE, EFER_LME | EFER_LMA | EFER_NXE);
	struct mmu_walk w;
	is_int(mmu_walk_va(&c, 0x10abc, &w), 0, "4-level 4K: mapped");
	is_int(w.pa, 0x10abc, "4-level 4K: physical");
	is_int(w.nlevels, 4, "4-level: four levels");
	is_str(w.level[0].name, "PML4", "PML4 first");
	is_str(w.level[3].name, "PT", "PT last");
	ok(w.nx && w.user && w.writable, "4K page: NX, user, writable");
	char flags[64];
	mmu_flags_str(w.level[3].flags, flags, sizeof(flags));
	is_str(flags, "P RW US NX", "NX decoded on the PT entry");
	is_int(mmu_walk_va(&c, 0x212345, &w), 0, "4-level 2M: mapped");
	is_int(w.pa, 0x212345, "4-level 2M: physical");
	is_int(w.nlevels, 3, "2M walk stops at the PD");
	ok(w.level[2].leaf && (w.level[2].flags & MMU_F_PS) && (w.level[2].flags & MMU_F_G),
	   "PD entry is the leaf, PS and G");
	ok(!w.writable, "2M page read-only");
	is_int(mmu_walk_va(&c, 0x40000000ull + 0x123456, &w), 0, "4-level 1G: mapped");
	is_int(w.pa, 0x80123456ull, "4-level 1G: physical");
	is_int(w.page_size, 1u << 30, "1G page size");
	ok(!w.user, "1G page is supervisor");
	is_int(mmu_walk_va(&c, 0xffffff8000010000ull, &w), 0, "kernel half (PML4 511) maps");
	ok(!w.user, "through a supervisor PML4 entry the page is supervisor");
	is_int(w.level[0].index, 511, "PML4 index 511");
	is_int(mmu_walk_va(&c, 1ull << 39, &w), -EFAULT, "PML4 entry 1 not present");
	is_int(w.fail_level, 0, "fails at PML4");
	is_int(mmu_walk_va(&c, 2ull << 30, &w), -EFAULT, "PDPT entry 2 not present");
	is_int(w.fail_level, 1, "fails at PDPT");
	is_int(mmu_walk_va(&c, 2ull << 21, &w), -EFAULT, "PD entry 2 not present");
	is_int(w.fail_level, 2, "fails at PD");
	is_int(mmu_walk_va(&c, 0x12000, &w), -EFAULT, "PT entry 0x12 not present");
	is_int(w.fail_level, 3, "fails at PT");
	is_int(mmu_walk_va(&c, 0x0000800000000000ull, &w), -EFAULT, "non-canonical address refused");
	is_int(w.fail_level, -1, "before any level");
	ok(strstr(w.reason, "canonical") != NULL, "reason says canonical: %s", w.reason);

	/* Reads and writes crossing pages. */
	memcpy(ram + 0x10ffc, "abcd", 4);
	memcpy(ram + 0x20000, "efgh", 4);
	char buf[8] = { 0 };
	is_int(mmu_read(&c, 0x10ffc, buf, 8), 0, "read across 0x11000");
	ok(memcmp(buf, "abcdefgh", 8) == 0, "bytes from both pages");
	is_int(mmu_write(&c, 0x10ffe, "XYZW", 4), 0, "write across 0x11000");
	ok(memcmp(ram + 0x10ffe, "XY", 2) == 0 && memcmp(ram + 0x20000, "ZW", 2) == 0,
	   "write landed on both frames");
	is_int(mmu_read(&c, 0x11ffc, buf, 8), -EFAULT, "read into the unmapped page fails");
	memcpy(ram + 0x20ffc, "1234", 4);
	is_int(mmu_write(&c, 0x11ffc, "abcdefgh", 8), -EFAULT, "write into the unmapped page fails");
	ok(memcmp(ram + 0x20ffc, "1234", 4) == 0, "and changed nothing");
	c.efer &= ~EFER_NXE;
	mmu_walk_va(&c, 0x10abc, &w);
	ok(!w.nx, "without EFER.NXE bit 63 does not make the page NX");
	c.cr3 = 0x200000;   /* a PML4 outside this RAM */
	is_int(mmu_walk_va(&c, 0, &w), -EFAULT, "a table outside RAM fails cleanly");
	is_int(w.fail_level, 0, "at the PML4");
}

static void test_long5(void)
{
	build_long4();
	put64(0x5000, 1, 0x1000 | P | RW | US);   /* PML5 entry 1 -> the PML4 above */
	struct mmu_ctx c = ctx_of(CR0_PE | CR0_PG, 0x5000, CR4_PAE | CR4_LA57, EFER_LME | EFER_LMA);
	struct mmu_walk w;
	uint64_t va = (1ull << 48) | 0x10123;
	is_int(mmu_walk_va(&c, va, &w), 0, "5-level: mapped");
	is_int(w.pa, 0x10123, "5-level: physical");
	is_int(w.nlevels, 5, "5-level: five levels");
	is_str(w.level[0].name, "PML5", "PML5 first");
	is_int(w.level[0].index, 1, "PML5 index 1");
	is_str(mmu_mode_name(w.mode), "5-level", "mode name");
	is_int(mmu_walk_va(&c, 0x10123, &w), -EFAULT, "PML5 entry 0 not present");
	is_int(w.fail_level, 0, "fails at PML5");
	ok(strstr(w.reason, "PML5") != NULL, "reason names PML5: %s", w.reason);
	is_int(mmu_walk_va(&c, 1ull << 57, &w), -EFAULT, "57-bit canonical check");
}

int main(void)
{
	tap_plan(87);
	test_paging_off();
	test_32bit();
	test_pae();
	test_long4();
	test_long5();
	return tap_done();
}
