/* test_soft_prot: 32-bit protected mode on the soft CPU: segment limits and
 * expand-down segments (#GP(0)), a ring-3 far call through a call gate to
 * ring 0 with the TSS stack switch and a copied parameter, the far return
 * (lret $4) back to ring 3, and iret to ring 3 nulling a data segment the
 * outer ring may not use. Built on a GDT, IDT and TSS the test writes. */
#include "tap.h"
#include "test_soft_box.h"

#define IDT 0x9000
#define STUBS 0xa000
#define COMMON 0xa800
#define TSS 0xb000
#define GDT 0xc000
#define CODE 0x10000
#define UCODE 0x11000
#define GATE 0x12000

__asm__(".pushsection .rodata\n.code32\n"
	"p_common: pop %eax\nout %eax, $0x80\nmov (%esp), %eax\nout %eax, $0x81\n"
	"mov 4(%esp), %eax\nout %eax, $0x84\nmov %esp, %eax\nout %eax, $0x83\n"
	"mov %bl, %al\nout %al, $0xf4\np_common_end:\n"
	"p_limit: mov $0x38, %ax\nmov %ax, %ds\nmov 0xffe, %eax\nout %al, $0x99\np_limit_end:\n"
	"p_down: mov $0x40, %ax\nmov %ax, %es\nmov %es:0x2000, %eax\nout %eax, $0x98\nmov %es:0x800, %eax\nout %al, $0x99\np_down_end:\n"
	"p_ring3: push $0x23\npush $0x18000\npush $0x3202\npush $0x1b\npush $0x11000\niret\np_ring3_end:\n"
	"p_user: mov %ds, %eax\nout %eax, $0x97\npush $0x1234\nlcall $0x33, $0\n"
	"mov %ss, %eax\nout %eax, $0x95\nmov %cs, %eax\nout %eax, $0x96\nmov %esp, %eax\nout %eax, $0x94\n"
	"mov $0x77, %al\nout %al, $0xf4\np_user_end:\n"
	"p_gate: mov (%esp), %eax\nout %eax, $0x90\nmov 4(%esp), %eax\nout %eax, $0x91\n"
	"mov 8(%esp), %eax\nout %eax, $0x92\nmov 12(%esp), %eax\nout %eax, $0x93\n"
	"mov 16(%esp), %eax\nout %eax, $0x9a\nmov %esp, %eax\nout %eax, $0x9b\nlret $4\np_gate_end:\n"
	"p_verify: mov $0x10, %ecx\nverw %cx\nsetz %al\nout %al, $0xb0\nmov $0x08, %ecx\nverw %cx\nsetz %al\nout %al, $0xb1\n"
	"verr %cx\nsetz %al\nout %al, $0xb2\nmov $0x38, %ecx\nlsl %ecx, %eax\nout %eax, $0xb3\nlar %ecx, %eax\nout %eax, $0xb4\n"
	"mov $0x1234, %ecx\nlar %ecx, %eax\nsetz %al\nout %al, $0xb5\nmov $0x77, %al\nout %al, $0xf4\np_verify_end:\n"
	".code64\n.popsection\n");
extern const uint8_t p_common[], p_common_end[], p_limit[], p_limit_end[], p_down[], p_down_end[],
	p_ring3[], p_ring3_end[], p_user[], p_user_end[], p_gate[], p_gate_end[], p_verify[], p_verify_end[];

static struct box b;

static void put64(uint64_t gpa, uint64_t v)
{
	memcpy(b.ram.host + gpa, &v, 8);
}

static void setup(const uint8_t *code, const uint8_t *end)
{
	struct boot_plan plan;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	box_free(&b);
	box_new(&b, 4 << 20);
	memset(&plan, 0, sizeof(plan));
	plan.mode = MODE_PROT32;
	plan.entry = CODE;
	plan.stack = 0x20000;
	accel_soft.get_regs(b.cpu, &regs);
	accel_soft.get_sregs(b.cpu, &sregs);
	boot_prepare(&b.ram, &plan, &regs, &sregs);
	static const uint64_t gdt[] = { 0, 0x00cf9b000000ffffull, 0x00cf93000000ffffull,
					0x00cffb000000ffffull, 0x00cff3000000ffffull, 0, 0,
					0x0040930200000fffull, 0x0040970200000fffull };
	memcpy(b.ram.host + GDT, gdt, sizeof(gdt));
	put64(GDT + 0x28, 0x67ull | ((uint64_t)TSS << 16) | (0x89ull << 40));
	/* call gate, DPL 3, one parameter, to 0x08:GATE */
	put64(GDT + 0x30, (GATE & 0xffff) | (0x08ull << 16) | (1ull << 32) | (0xecull << 40) |
			  ((uint64_t)(GATE >> 16) << 48));
	put64(TSS + 4, 0x28000 | (0x10ull << 32)); /* esp0, ss0 */
	for (int v = 0; v < 32; v++) {
		uint8_t *p = b.ram.host + STUBS + v * 16;
		uint64_t at = STUBS + v * 16;
		bool err = v == 8 || (v >= 10 && v <= 14) || v == 17;
		int n = 0;
		if (!err)
			p[n++] = 0x6a, p[n++] = 0;
		p[n++] = 0xb3, p[n++] = v, p[n++] = 0xe9;
		int32_t rel = (int32_t)(COMMON - (at + n + 4));
		memcpy(p + n, &rel, 4);
		put64(IDT + v * 8, (at & 0xffff) | (0x08ull << 16) | (0x8eull << 40) | ((at >> 16) << 48));
	}
	memcpy(b.ram.host + COMMON, p_common, p_common_end - p_common);
	sregs.gdt.base = GDT;
	sregs.gdt.limit = 0x47;
	sregs.idt.base = IDT;
	sregs.idt.limit = 32 * 8 - 1;
	sregs.tr.selector = 0x28;
	sregs.tr.base = TSS;
	sregs.tr.limit = 0x67;
	sregs.tr.type = 11;
	sregs.tr.present = 1;
	sregs.tr.s = 0;
	accel_soft.set_sregs(b.cpu, &sregs);
	accel_soft.set_regs(b.cpu, &regs);
	memcpy(b.ram.host + CODE, code, end - code);
}

static void expect(const char *what, int code, const char *log)
{
	int r = box_run(&b, 100);
	bool good = r == KVM_EXIT_IO && b.exit_code == code && !strcmp(b.log, log);
	ok(good, "%s", what);
	if (!good)
		printf("#   got r=%d exit %#x, log %s\n#  want exit %#x, log %s\n", r, b.exit_code, b.log, code, log);
}

int main(void)
{
	char want[256];
	tap_plan(4);
	box_new(&b, 4096);

	setup(p_limit, p_limit_end);
	snprintf(want, sizeof(want), "o80:0 o81:%x o84:8 o83:1fff4 ", CODE + 6);
	expect("a 4-byte read at 0xffe of a segment with limit 0xfff is #GP(0)", 13, want);

	setup(p_down, p_down_end);
	b.in_value = 0;
	snprintf(want, sizeof(want), "o98:0 o80:0 o81:%x o84:8 o83:1fff4 ", CODE + 14);
	expect("expand-down: 0x2000 reads, 0x800 (at or below the limit) is #GP(0)", 13, want);

	setup(p_ring3, p_ring3_end);
	memcpy(b.ram.host + UCODE, p_user, p_user_end - p_user);
	memcpy(b.ram.host + GATE, p_gate, p_gate_end - p_gate);
	/* DS is still the ring-0 data segment when iret goes to ring 3 */
	snprintf(want, sizeof(want),
		 "o97:0 o90:%x o91:1b o92:1234 o93:17ffc o9a:23 o9b:27fec o95:23 o96:1b o94:18000 ",
		 UCODE + 16);
	expect("iret to ring 3 nulls DS; call gate to ring 0 switches stacks, copies the parameter; lret $4 returns", 0x77, want);
	setup(p_verify, p_verify_end);
	expect("verw/verr on data and code segments, lsl and lar, lar on a bad selector",
	       0x77, "ob0:1 ob1:0 ob2:1 ob3:fff ob4:409300 ob5:0 ");
	box_free(&b);
	return tap_done();
}
