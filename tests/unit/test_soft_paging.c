/* test_soft_paging: the legacy paging modes on the soft CPU, from 32-bit
 * protected mode: 32-bit paging (4-KiB pages and a 4-MiB PSE page) and PAE
 * (2-MiB and 4-KiB pages): a store and a load through the mapping reach the
 * right physical page, the accessed and dirty bits are set, and a
 * not-present page faults with the right error code and CR2. */
#include "tap.h"
#include "test_soft_box.h"

#define IDT 0x9000
#define CODE 0x10000
#define PHYS 0x300000

__asm__(".pushsection .rodata\n.code32\n"
	"pg_handler: pop %eax\nout %eax, $0x80\nmov %cr2, %eax\nout %eax, $0x82\nmov $14, %al\nout %al, $0xf4\npg_handler_end:\n"
	/* eax = cr3, ecx = cr4 bits to set */
	"pg_code: mov %eax, %cr3\nmov %cr4, %eax\nor %ecx, %eax\nmov %eax, %cr4\n"
	"mov %cr0, %eax\nor $0x80000000, %eax\nmov %eax, %cr0\n"
	"movl $0x12345678, 0x40000010\nmov 0x40000010, %ebx\nout %eax, $0x90\nmov %ebx, %eax\nout %eax, $0x91\n"
	"movl $1, 0x40001000\nout %al, $0x99\npg_code_end:\n"
	".code64\n.popsection\n");
extern const uint8_t pg_handler[], pg_handler_end[], pg_code[], pg_code_end[];

static struct box b;

static void put32(uint64_t a, uint32_t v)
{
	memcpy(b.ram.host + a, &v, 4);
}

static void put64(uint64_t a, uint64_t v)
{
	memcpy(b.ram.host + a, &v, 8);
}

static uint64_t get64(uint64_t a)
{
	uint64_t v;
	memcpy(&v, b.ram.host + a, 8);
	return v;
}

static void setup(uint32_t cr3, uint32_t cr4_bits)
{
	struct boot_plan plan;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	box_free(&b);
	box_new(&b, 8 << 20);
	memset(&plan, 0, sizeof(plan));
	plan.mode = MODE_PROT32;
	plan.entry = CODE;
	plan.stack = 0x20000;
	accel_soft.get_regs(b.cpu, &regs);
	accel_soft.get_sregs(b.cpu, &sregs);
	boot_prepare(&b.ram, &plan, &regs, &sregs);
	memcpy(b.ram.host + 0xa000, pg_handler, pg_handler_end - pg_handler);
	put64(IDT + 14 * 8, 0xa000 | (0x08ull << 16) | (0x8eull << 40));
	sregs.idt.base = IDT;
	sregs.idt.limit = 15 * 8 - 1;
	accel_soft.set_sregs(b.cpu, &sregs);
	regs.rax = cr3;
	regs.rcx = cr4_bits;
	accel_soft.set_regs(b.cpu, &regs);
	memcpy(b.ram.host + CODE, pg_code, pg_code_end - pg_code);
}

static void check(const char *mode, uint64_t pte_at, int pte_size)
{
	int r = box_run(&b, 100);
	char want[128];
	snprintf(want, sizeof(want), "o90:%x o91:12345678 o80:2 o82:40001000 ", 0x80000011);
	uint32_t at;
	memcpy(&at, b.ram.host + PHYS + 0x10, 4);
	ok(r == KVM_EXIT_IO && b.exit_code == 14 && !strcmp(b.log, want) && at == 0x12345678,
	   "%s: store and load through the mapping, #PF(2) with CR2 on the absent page (%s)", mode, b.log);
	uint64_t pte = pte_size == 8 ? get64(pte_at) : (uint32_t)get64(pte_at);
	ok((pte & 0x60) == 0x60, "%s: the PTE has A and D set (%#llx)", mode, (unsigned long long)pte);
}

int main(void)
{
	tap_plan(4);
	box_new(&b, 4096);

	/* 32-bit paging: PDE[0] a 4-MiB identity page, PDE[0x100] -> PT */
	setup(0x20000, 0x10);
	put32(0x20000, 0x83);
	put32(0x20000 + 0x100 * 4, 0x21000 | 3);
	put32(0x21000, PHYS | 3);
	check("32-bit paging", 0x21000, 4);

	/* PAE: PDPT[0] -> PD with a 2-MiB identity page, PDPT[1] -> PD -> PT */
	setup(0x22000, 0x20);
	put64(0x22000, 0x25000 | 1);
	put64(0x22008, 0x23000 | 1);
	put64(0x25000, 0x83);
	put64(0x23000, 0x24000 | 3);
	put64(0x24000, PHYS | 3);
	check("PAE paging", 0x24000, 8);
	box_free(&b);
	return tap_done();
}
