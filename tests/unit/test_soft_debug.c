/* test_soft_debug: KVM_SET_GUEST_DEBUG on the soft CPU: single-stepping a
 * whole guest (one KVM_EXIT_DEBUG per retired instruction, DR6.BS, pc),
 * hardware execute breakpoints (exit before the instruction, DR6 bit),
 * software breakpoints (int3 exits with exception 3 at its address) and
 * data write / read-write watchpoints (exit after the access). */
#include <unistd.h>

#include "tap.h"
#include "test_soft_box.h"

#define MiB (1ull << 20)

__asm__(".pushsection .rodata\n"
	"w_code: movl $5, 0x9000\nnop\nmov 0x9004, %eax\nnop\nout %al, $0xf4\nw_code_end:\n"
	".popsection\n");
extern const uint8_t w_code[], w_code_end[];

static void boot16(struct box *b)
{
	box_new(b, 2 * MiB);
	FILE *f = fopen("samples/build/boot16.bin", "rb");
	if (f) {
		if (fread(b->ram.host + 0x7c00, 1, 512, f) != 512)
			printf("# short boot16.bin\n");
		fclose(f);
	}
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	accel_soft.get_regs(b->cpu, &regs);
	accel_soft.get_sregs(b->cpu, &sregs);
	sregs.cs.selector = 0;
	sregs.cs.base = 0;
	regs.rip = 0x7c00;
	accel_soft.set_sregs(b->cpu, &sregs);
	accel_soft.set_regs(b->cpu, &regs);
}

static void set_dbg(struct box *b, uint32_t control, uint64_t dr0, uint64_t dr7)
{
	struct kvm_guest_debug g;
	memset(&g, 0, sizeof(g));
	g.control = control;
	g.arch.debugreg[0] = dr0;
	g.arch.debugreg[7] = dr7;
	accel_soft.set_guest_debug(b->cpu, &g);
}

static uint64_t step_pc20;

static void test_singlestep(void)
{
	struct box b;
	boot16(&b);
	set_dbg(&b, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP, 0, 0);
	int steps = 0, bad = 0;
	for (int n = 0; n < 20000 && b.exit_code < 0; n++) {
		if (accel_soft.vcpu_run(b.cpu) < 0)
			break;
		if (b.run->exit_reason == KVM_EXIT_IO) {
			box_io(&b);
			continue;
		}
		if (b.run->exit_reason != KVM_EXIT_DEBUG)
			break;
		struct kvm_regs regs;
		accel_soft.get_regs(b.cpu, &regs);
		if (!(b.run->debug.arch.dr6 & 0x4000) || b.run->debug.arch.exception != 1 ||
		    b.run->debug.arch.pc != regs.rip)
			bad++;
		if (++steps == 20)
			step_pc20 = b.run->debug.arch.pc;
	}
	uint64_t count = soft_vcpu_insn_count(b.cpu);
	ok(b.exit_code == 0x10 && !memcmp(b.out, "Hello from real mode!\r\n", 23),
	   "single-stepped boot16 still prints and exits");
	ok(bad == 0 && (uint64_t)steps + 1 == count,
	   "one debug exit per instruction (%d steps, %llu instructions, %d bad)", steps,
	   (unsigned long long)count, bad);
	box_free(&b);
}

static void test_hw_bp(void)
{
	struct box b;
	boot16(&b);
	set_dbg(&b, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP, step_pc20, 0x1);
	int r = box_run(&b, 1000);
	struct kvm_regs regs;
	accel_soft.get_regs(b.cpu, &regs);
	ok(r == KVM_EXIT_DEBUG && b.run->debug.arch.pc == step_pc20 && regs.rip == step_pc20 &&
	   (b.run->debug.arch.dr6 & 1) && b.run->debug.arch.exception == 1,
	   "execute breakpoint exits before %#llx (r=%d pc=%#llx dr6=%#llx)",
	   (unsigned long long)step_pc20, r, (unsigned long long)b.run->debug.arch.pc,
	   (unsigned long long)b.run->debug.arch.dr6);
	set_dbg(&b, 0, 0, 0);
	r = box_run(&b, 1000);
	ok(r == KVM_EXIT_IO && b.exit_code == 0x10 && b.nout == 23, "and the guest goes on when resumed");
	box_free(&b);
}

static void test_sw_bp(void)
{
	struct box b;
	boot16(&b);
	uint8_t saved = b.ram.host[step_pc20];
	b.ram.host[step_pc20] = 0xcc;
	set_dbg(&b, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP, 0, 0);
	int r = box_run(&b, 1000);
	struct kvm_regs regs;
	accel_soft.get_regs(b.cpu, &regs);
	ok(r == KVM_EXIT_DEBUG && b.run->debug.arch.exception == 3 &&
	   b.run->debug.arch.pc == step_pc20 && regs.rip == step_pc20,
	   "int3 exits with exception 3 at its own address (pc=%#llx rip=%#llx)",
	   (unsigned long long)b.run->debug.arch.pc, (unsigned long long)regs.rip);
	b.ram.host[step_pc20] = saved;
	soft_vm_ram_written(b.vm, step_pc20, 1);
	r = box_run(&b, 1000);
	ok(r == KVM_EXIT_IO && b.exit_code == 0x10 && b.nout == 23, "the original byte back, it completes");
	box_free(&b);
}

static void test_watch(void)
{
	struct box b;
	box_new(&b, 4 * MiB);
	struct boot_plan plan;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	memset(&plan, 0, sizeof(plan));
	plan.mode = MODE_LONG64;
	plan.entry = 0x10000;
	plan.stack = 0x8000;
	accel_soft.get_regs(b.cpu, &regs);
	accel_soft.get_sregs(b.cpu, &sregs);
	boot_prepare(&b.ram, &plan, &regs, &sregs);
	accel_soft.set_sregs(b.cpu, &sregs);
	accel_soft.set_regs(b.cpu, &regs);
	memcpy(b.ram.host + 0x10000, w_code, w_code_end - w_code);
	/* DR0 = 0x9000, write, 4 bytes; DR1 unused; read/write watch is DR0 too below */
	set_dbg(&b, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP, 0x9000, 0x1 | (1u << 16) | (3u << 18));
	int r = box_run(&b, 10);
	ok(r == KVM_EXIT_DEBUG && b.run->debug.arch.pc == 0x1000b && (b.run->debug.arch.dr6 & 1) &&
	   b.ram.host[0x9000] == 5, "write watch exits after the store (pc=%#llx)",
	   (unsigned long long)b.run->debug.arch.pc);
	set_dbg(&b, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP, 0x9004, 0x1 | (3u << 16) | (3u << 18));
	r = box_run(&b, 10);
	ok(r == KVM_EXIT_DEBUG && b.run->debug.arch.pc == 0x10013,
	   "read/write watch exits after the load (pc=%#llx)", (unsigned long long)b.run->debug.arch.pc);
	box_free(&b);
}

int main(void)
{
	if (access("samples/build/boot16.bin", R_OK))
		tap_skip_all("samples not built (make samples)");
	tap_plan(8);
	test_singlestep();
	test_hw_bp();
	test_sw_bp();
	test_watch();
	return tap_done();
}
