/* test_soft_exc: exceptions and their error codes in long mode on the soft
 * CPU: #PF (not present, user/supervisor), #GP with a selector, #GP from an
 * int n through a gate of too high a DPL at ring 3, #DE, #UD, #BP, #DF when
 * delivering a #PF fails (on an IST stack), triple fault -> shutdown, and a
 * ring-3 to ring-0 switch through the TSS. The test builds the GDT, IDT and
 * TSS itself; every handler reports error code, RIP, CS, CR2 and RSP on
 * ports 0x80-0x84 and exits with its vector. */
#include <unistd.h>

#include "tap.h"
#include "test_soft_box.h"

#define MiB (1ull << 20)
#define IDT 0x9000
#define STUBS 0xa000
#define COMMON 0xa800
#define TSS 0xb000
#define GDT 0xc000
#define CODE 0x10000
#define UCODE 0x11000
#define STACK 0x20000
#define RSP0 0x28000
#define IST1 0x30000

__asm__(".pushsection .rodata\n"
	"exc_common:\n"
	"pop %rax\nout %eax, $0x80\n"
	"mov (%rsp), %rax\nout %eax, $0x81\n"
	"mov 8(%rsp), %rax\nout %eax, $0x84\n"
	"mov %cr2, %rax\nout %eax, $0x82\n"
	"mov %rsp, %rax\nout %eax, $0x83\n"
	"mov %bl, %al\nout %al, $0xf4\n"
	"exc_common_end:\n"
	/* snippets, each ending in out to 0x99 (not reached when they fault) */
	"s_pf: movq $1, 0x200010\nout %al, $0x99\ns_pf_end:\n"
	"s_gp: mov $0x1234, %ax\nmov %ax, %ds\nout %al, $0x99\ns_gp_end:\n"
	"s_de: xor %ecx, %ecx\ndiv %ecx\nout %al, $0x99\ns_de_end:\n"
	"s_ud: ud2\nout %al, $0x99\ns_ud_end:\n"
	"s_bp: int3\nout %al, $0x99\ns_bp_end:\n"
	"s_vmcall: mov $99, %eax\nvmcall\nout %eax, $0x80\nmov $0x42, %al\nout %al, $0xf4\ns_vmcall_end:\n"
	"s_rdpru: .byte 0x0f, 0x01, 0xfd\nout %al, $0x99\ns_rdpru_end:\n"
	/* to ring 3: iretq to UCODE with the user selectors */
	"s_ring3: push $0x23\npush $0x18000\npush $0x202\npush $0x2b\npush $0x11000\niretq\ns_ring3_end:\n"
	"u_pf: movl $5, 0x400000\nout %al, $0x99\nu_pf_end:\n"
	"u_intn: int $0x80\nout %al, $0x99\nu_intn_end:\n"
	"s_rep: mov $0x100000, %rsi\nmov $0x1ff800, %rdi\nmov $0x2000, %rcx\ncld\nrep movsb\nout %al, $0x99\ns_rep_end:\n"
	"s_sysret: mov $0x11000, %rcx\nmov $0x3202, %r11\nsysretq\ns_sysret_end:\n"
	"u_sys: syscall\nu_sys_end:\n"
	"u_dbg: nop\nnop\nint3\nmov $1, %eax\nout %al, $0x99\nu_dbg_end:\n"
	"k_sys: mov %rcx, %rax\nout %eax, $0x90\nmov %r11, %rax\nout %eax, $0x91\nmov %cs, %eax\nout %eax, $0x92\n"
	"mov %ss, %eax\nout %eax, $0x93\npushfq\npop %rax\nout %eax, $0x94\nmov $0x55, %al\nout %al, $0xf4\nk_sys_end:\n"
	".popsection\n");
extern const uint8_t exc_common[], exc_common_end[], s_pf[], s_pf_end[], s_gp[], s_gp_end[],
	s_de[], s_de_end[], s_ud[], s_ud_end[], s_bp[], s_bp_end[], s_vmcall[], s_vmcall_end[],
	s_rdpru[], s_rdpru_end[], s_ring3[], s_ring3_end[],
	u_pf[], u_pf_end[], u_intn[], u_intn_end[], s_rep[], s_rep_end[], s_sysret[], s_sysret_end[],
	u_sys[], u_sys_end[], k_sys[], k_sys_end[], u_dbg[], u_dbg_end[];

static struct box b;

static void put64(uint64_t gpa, uint64_t v)
{
	memcpy(b.ram.host + gpa, &v, 8);
}

static void gate(int vec, uint64_t target, int dpl, int ist, bool present)
{
	uint64_t lo = (target & 0xffff) | (0x08ull << 16) | ((uint64_t)ist << 32) |
		      (0xeull << 40) | ((uint64_t)dpl << 45) | ((uint64_t)present << 47) |
		      ((target >> 16) & 0xffff) << 48;
	put64(IDT + vec * 16, lo);
	put64(IDT + vec * 16 + 8, target >> 32);
}

static void stubs(void)
{
	for (int v = 0; v < 32; v++) {
		uint8_t *p = b.ram.host + STUBS + v * 16;
		uint64_t at = STUBS + v * 16;
		bool err = v == 8 || (v >= 10 && v <= 14) || v == 17;
		int n = 0;
		if (!err) {
			p[n++] = 0x6a; /* push $0 */
			p[n++] = 0;
		}
		p[n++] = 0xb3; /* mov $v, %bl */
		p[n++] = v;
		p[n++] = 0xe9; /* jmp COMMON */
		int32_t rel = (int32_t)(COMMON - (at + n + 4));
		memcpy(p + n, &rel, 4);
		gate(v, at, 0, 0, true);
	}
	memcpy(b.ram.host + COMMON, exc_common, exc_common_end - exc_common);
}

/* A fresh long-mode machine with our GDT (ring 0 and ring 3 segments, a
 * TSS), IDT and handlers; `code` copied to CODE. */
static void setup(const uint8_t *code, const uint8_t *end)
{
	struct boot_plan plan;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	box_free(&b);
	box_new(&b, 8 * MiB);
	memset(&plan, 0, sizeof(plan));
	plan.mode = MODE_LONG64;
	plan.entry = CODE;
	plan.stack = STACK;
	accel_soft.get_regs(b.cpu, &regs);
	accel_soft.get_sregs(b.cpu, &sregs);
	boot_prepare(&b.ram, &plan, &regs, &sregs);
	static const uint64_t gdt[] = { 0, 0x00af9b000000ffffull, 0x00cf93000000ffffull, 0,
					0x00cff3000000ffffull, 0x00affb000000ffffull };
	memcpy(b.ram.host + GDT, gdt, sizeof(gdt));
	put64(GDT + 0x30, (0x67ull) | ((uint64_t)(TSS & 0xffffff) << 16) | (0x89ull << 40));
	put64(GDT + 0x38, 0);
	put64(TSS + 4, RSP0);
	put64(TSS + 0x24, IST1);
	sregs.gdt.base = GDT;
	sregs.gdt.limit = 0x3f;
	sregs.idt.base = IDT;
	sregs.idt.limit = 32 * 16 - 1;
	sregs.tr.selector = 0x30;
	sregs.tr.base = TSS;
	sregs.tr.limit = 0x67;
	sregs.tr.type = 11;
	sregs.tr.present = 1;
	sregs.tr.s = 0;
	/* user bit on the first 2 MiB: PML4[0], PDPT[0], PD0[0] */
	b.ram.host[0x1000] |= 4;
	b.ram.host[0x6000] |= 4;
	b.ram.host[0x2000] |= 4;
	accel_soft.set_sregs(b.cpu, &sregs);
	accel_soft.set_regs(b.cpu, &regs);
	stubs();
	memcpy(b.ram.host + CODE, code, end - code);
}

static void expect(const char *what, int vec, const char *log)
{
	int r = box_run(&b, 100);
	bool good = r == KVM_EXIT_IO && b.exit_code == vec && !strcmp(b.log, log);
	ok(good, "%s: vector %d, frame %s", what, vec, log);
	if (!good)
		printf("#   got r=%d vector %d, log %s\n", r, b.exit_code, b.log);
}

int main(void)
{
	char want[256];
	tap_plan(19);
	box_new(&b, 4096);

	setup(s_pf, s_pf_end);
	b.ram.host[0x2008] = 0; /* 0x200000-0x3fffff not present */
	snprintf(want, sizeof(want), "o80:2 o81:%x o84:8 o82:200010 o83:%x ", CODE, STACK - 40);
	expect("#PF write to a non-present page", 14, want);

	setup(s_gp, s_gp_end);
	snprintf(want, sizeof(want), "o80:1234 o81:%x o84:8 o82:0 o83:%x ", CODE + 4, STACK - 40);
	expect("#GP(sel) loading an LDT selector without an LDT", 13, want);

	setup(s_de, s_de_end);
	snprintf(want, sizeof(want), "o80:0 o81:%x o84:8 o82:0 o83:%x ", CODE + 2, STACK - 40);
	expect("#DE dividing by zero", 0, want);

	setup(s_ud, s_ud_end);
	snprintf(want, sizeof(want), "o80:0 o81:%x o84:8 o82:0 o83:%x ", CODE, STACK - 40);
	expect("#UD on ud2", 6, want);

	setup(s_bp, s_bp_end);
	snprintf(want, sizeof(want), "o80:0 o81:%x o84:8 o82:0 o83:%x ", CODE + 1, STACK - 40);
	expect("#BP returns after the int3", 3, want);

	setup(s_vmcall, s_vmcall_end);
	expect("vmcall answers an unknown hypercall with -KVM_ENOSYS", 0x42, "o80:fffffc18 ");

	setup(s_rdpru, s_rdpru_end);
	snprintf(want, sizeof(want), "o80:0 o81:%x o84:8 o82:0 o83:%x ", CODE, STACK - 40);
	expect("#UD on rdpru (not in CPUID)", 6, want);

	setup(s_pf, s_pf_end);
	b.ram.host[0x2008] = 0;
	gate(14, STUBS + 14 * 16, 0, 0, false);
	gate(8, STUBS + 8 * 16, 0, 1, true);
	snprintf(want, sizeof(want), "o80:0 o81:%x o84:8 o82:200010 o83:%x ", CODE, IST1 - 40);
	expect("#DF when #PF's gate is not present, on IST1", 8, want);

	setup(s_pf, s_pf_end);
	b.ram.host[0x2008] = 0;
	gate(14, STUBS + 14 * 16, 0, 0, false);
	gate(8, STUBS + 8 * 16, 0, 0, false);
	int r = box_run(&b, 100);
	ok(r == KVM_EXIT_SHUTDOWN, "triple fault when #DF cannot be delivered either (r=%d)", r);

	setup(s_ring3, s_ring3_end);
	memcpy(b.ram.host + UCODE, u_pf, u_pf_end - u_pf);
	snprintf(want, sizeof(want), "o80:7 o81:%x o84:2b o82:400000 o83:%x ", UCODE, RSP0 - 40);
	expect("#PF from ring 3 writing a supervisor page, stack from TSS.RSP0", 14, want);
	struct kvm_sregs s;
	accel_soft.get_sregs(b.cpu, &s);
	ok(s.cs.selector == 8 && s.ss.selector == 0 && s.cs.dpl == 0, "handler runs at ring 0 with a null SS (cs %#x ss %#x)", s.cs.selector, s.ss.selector);

	setup(s_ring3, s_ring3_end);
	memcpy(b.ram.host + UCODE, u_intn, u_intn_end - u_intn);
	snprintf(want, sizeof(want), "o80:402 o81:%x o84:2b o82:0 o83:%x ", UCODE, RSP0 - 40);
	gate(0x80, STUBS, 0, 0, true);
	{
		struct kvm_sregs s2;
		accel_soft.get_sregs(b.cpu, &s2);
		s2.idt.limit = 0x81 * 16 - 1;
		accel_soft.set_sregs(b.cpu, &s2);
	}
	expect("int $0x80 at ring 3 through a DPL-0 gate is #GP(0x402)", 13, want);

	setup(s_ring3, s_ring3_end);
	memcpy(b.ram.host + UCODE, u_intn, u_intn_end - u_intn);
	gate(0x80, STUBS + 5 * 16, 3, 0, true); /* reports as vector 5 */
	{
		struct kvm_sregs s2;
		accel_soft.get_sregs(b.cpu, &s2);
		s2.idt.limit = 0x81 * 16 - 1;
		accel_soft.set_sregs(b.cpu, &s2);
	}
	snprintf(want, sizeof(want), "o80:0 o81:%x o84:2b o82:0 o83:%x ", UCODE + 2, RSP0 - 40);
	expect("int $0x80 at ring 3 through a DPL-3 gate", 5, want);
	setup(s_rep, s_rep_end);
	b.ram.host[0x2008] = 0;
	snprintf(want, sizeof(want), "o80:2 o81:%x o84:8 o82:200000 o83:%x ", CODE + 22, STACK - 40);
	expect("rep movsb faulting mid-way: #PF at the rep", 14, want);
	struct kvm_regs regs;
	accel_soft.get_regs(b.cpu, &regs);
	ok(regs.rcx == 0x1800 && regs.rsi == 0x100800 && regs.rdi == 0x200000,
	   "rcx/rsi/rdi left at the faulting element (rcx=%#llx rsi=%#llx rdi=%#llx)",
	   (unsigned long long)regs.rcx, (unsigned long long)regs.rsi, (unsigned long long)regs.rdi);

	setup(s_sysret, s_sysret_end);
	memcpy(b.ram.host + UCODE, u_sys, u_sys_end - u_sys);
	memcpy(b.ram.host + 0x12000, k_sys, k_sys_end - k_sys);
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[4];
	} m;
	memset(&m, 0, sizeof(m));
	m.h.nmsrs = 4;
	m.e[0].index = 0xc0000080, m.e[0].data = 0x501; /* SCE, LME, LMA */
	m.e[1].index = 0xc0000081, m.e[1].data = (0x1bull << 48) | (0x08ull << 32);
	m.e[2].index = 0xc0000082, m.e[2].data = 0x12000;
	m.e[3].index = 0xc0000084, m.e[3].data = 0x200;
	int done = accel_soft.set_msrs(b.cpu, &m.h);
	expect("sysretq to ring 3, syscall back: RCX, R11, CS, SS and SFMASK", 0x55,
	       "o90:11002 o91:3202 o92:8 o93:10 o94:3002 ");
	ok(done == 4, "set_msrs did all four");

	/* guest debug at ring 3: single steps, then a software breakpoint */
	setup(s_ring3, s_ring3_end);
	memcpy(b.ram.host + UCODE, u_dbg, u_dbg_end - u_dbg);
	struct kvm_guest_debug g;
	memset(&g, 0, sizeof(g));
	g.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP | KVM_GUESTDBG_USE_SW_BP;
	accel_soft.set_guest_debug(b.cpu, &g);
	uint64_t pcs[32];
	int steps = 0, rr = 0;
	while (steps < 32 && (rr = accel_soft.vcpu_run(b.cpu)) == 0 && b.run->exit_reason == KVM_EXIT_DEBUG) {
		pcs[steps++] = b.run->debug.arch.pc;
		if (b.run->debug.arch.exception == 3)
			break;
	}
	struct kvm_sregs us;
	accel_soft.get_sregs(b.cpu, &us);
	ok(steps >= 3 && pcs[steps - 3] == UCODE + 1 && pcs[steps - 2] == UCODE + 2 && us.cs.selector == 0x2b,
	   "ring 3: single steps land on each user instruction (%d steps, cs %#x)", steps, us.cs.selector);
	ok(b.run->debug.arch.exception == 3 && b.run->debug.arch.pc == UCODE + 2,
	   "ring 3: int3 exits with exception 3 at its own address (%#llx)", (unsigned long long)b.run->debug.arch.pc);
	box_free(&b);
	return tap_done();
}
