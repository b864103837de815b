/* test_soft_cpu: the soft CPU runs the sample guests through accel_soft with
 * a minimal VMM (test_soft_box.h): real mode (boot16, echo, triple, halt),
 * 32-bit protected mode (mb32, devtest) and long mode with the PIC and PIT
 * (hello64). Each checks the serial text and the exit the guest ends with. */
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "test_soft_box.h"

#define SAMPLES "samples/build/"
#define MiB (1ull << 20)

static void load_boot_sector(struct box *b, const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t n = f ? fread(b->ram.host + 0x7c00, 1, 512, f) : 0;
	if (f)
		fclose(f);
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	accel_soft.get_regs(b->cpu, &regs);
	accel_soft.get_sregs(b->cpu, &sregs);
	sregs.cs.selector = 0;
	sregs.cs.base = 0;
	regs.rip = 0x7c00;
	accel_soft.set_sregs(b->cpu, &sregs);
	accel_soft.set_regs(b->cpu, &regs);
	if (n != 512)
		printf("# %s: read %zu bytes\n", path, n);
}

/* counter: 100,000 port exits from real mode, entered at the reset vector
 * F000:FFF0 as KVM's reset state has it (with the image at 0xF0000). */
static void test_counter(void)
{
	struct box b;
	box_new(&b, 2 * MiB);
	FILE *f = fopen(SAMPLES "counter.bin", "rb");
	size_t n = f ? fread(b.ram.host + 0xf0000, 1, 0x10000, f) : 0;
	if (f)
		fclose(f);
	struct kvm_sregs sregs;
	accel_soft.get_sregs(b.cpu, &sregs);
	sregs.cs.base = 0xf0000; /* the BIOS alias below 1 MiB */
	accel_soft.set_sregs(b.cpu, &sregs);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r = box_run(&b, 200000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	ok(n == 0x10000 && r == KVM_EXIT_IO && b.exit_code == 0, "counter exits 0x00 from the reset vector (r=%d)", r);
	printf("# counter: 100000 port exits in %.3f s (%.0f exits/s)\n", s, 100000 / s);
	box_free(&b);
}

static void test_boot16(void)
{
	struct box b;
	box_new(&b, 2 * MiB);
	load_boot_sector(&b, SAMPLES "boot16.bin");
	int r = box_run(&b, 10000);
	ok(r == KVM_EXIT_IO && b.exit_code == 0x10, "boot16 exits 0x10 (r=%d code=%#x)", r, b.exit_code);
	ok(b.nout == 23 && !memcmp(b.out, "Hello from real mode!\r\n", 23), "boot16 prints its line: '%.*s'", b.nout, b.out);
	ok(soft_vcpu_insn_count(b.cpu) > 100, "instructions counted: %llu",
	   (unsigned long long)soft_vcpu_insn_count(b.cpu));
	box_free(&b);
}

/* An IN exit answered with immediate_exit set: the read completes (AL, RIP)
 * and run returns -EINTR at once. */
static void test_immediate_exit(void)
{
	struct box b;
	box_new(&b, 2 * MiB);
	load_boot_sector(&b, SAMPLES "boot16.bin");
	int r = 0;
	while ((r = accel_soft.vcpu_run(b.cpu)) == 0 && b.run->exit_reason == KVM_EXIT_IO &&
	       b.run->io.direction == KVM_EXIT_IO_OUT)
		box_io(&b);
	struct kvm_regs before, after;
	accel_soft.get_regs(b.cpu, &before);
	ok(r == 0 && b.run->exit_reason == KVM_EXIT_IO && b.run->io.port == 0x3fd, "an IN exit from port 0x3fd");
	((uint8_t *)b.run)[b.run->io.data_offset] = 0x20;
	b.run->immediate_exit = 1;
	r = accel_soft.vcpu_run(b.cpu);
	accel_soft.get_regs(b.cpu, &after);
	ok(r == -EINTR && (after.rax & 0xff) == 0x20 && after.rip == before.rip + 1,
	   "immediate_exit completes it and returns -EINTR (al=%#llx rip %#llx -> %#llx)",
	   (unsigned long long)(after.rax & 0xff), (unsigned long long)before.rip, (unsigned long long)after.rip);
	b.run->immediate_exit = 0;
	r = box_run(&b, 10000);
	ok(r == KVM_EXIT_IO && b.exit_code == 0x10 && b.nout == 23, "and the guest finishes as usual");
	box_free(&b);
}

static void test_mb32(void)
{
	struct box b;
	box_new(&b, 64 * MiB);
	int r = box_load(&b, SAMPLES "mb32.elf");
	ok(r == 0, "mb32 loads (%d)", r);
	r = box_run(&b, 100000);
	ok(r == KVM_EXIT_IO && b.exit_code == 0x20, "mb32 exits 0x20 (r=%d code=%#x)", r, b.exit_code);
	ok(strstr(b.out, "multiboot: magic ok\n") && strstr(b.out, "mmap: "), "mb32 output: %.*s", b.nout, b.out);
	box_free(&b);
}

static void test_devtest(void)
{
	struct box b;
	box_new(&b, 16 * MiB);
	b.in_value = 0x12345678;
	int r = box_load(&b, SAMPLES "devtest.elf");
	r = box_run(&b, 1000);
	ok(r == KVM_EXIT_IO && b.exit_code == 0x40, "devtest exits 0x40 (r=%d code=%#x)", r, b.exit_code);
	const char *want = "o500:11 o500:22 o502:4455 i501 o503:78 i500 o500:12345678 "
			   "wfe000000:deadbeef rfe000004 o500:12345678 wfe000008:7f ";
	ok(!strcmp(b.log, want), "devtest's accesses in order: %s", b.log);
	box_free(&b);
}

static void test_echo(void)
{
	struct box b;
	box_new(&b, 2 * MiB);
	load_boot_sector(&b, SAMPLES "echo.bin");
	b.input = "hi there\r";
	int r = box_run(&b, 100000);
	ok(r == KVM_EXIT_IO && b.exit_code == 0x50, "echo exits 0x50 (r=%d code=%#x)", r, b.exit_code);
	ok(b.nout == 16 && !memcmp(b.out, "echo> hi there\r\n", 16), "echo echoes: '%.*s'", b.nout, b.out);
	box_free(&b);
}

static void test_triple(void)
{
	struct box b;
	box_new(&b, 2 * MiB);
	load_boot_sector(&b, SAMPLES "triple.bin");
	int r = box_run(&b, 10000);
	ok(r == KVM_EXIT_SHUTDOWN, "triple fault is KVM_EXIT_SHUTDOWN (r=%d)", r);
	ok(strstr(b.out, "about to triple fault") != NULL, "triple prints first");
	box_free(&b);
}

static void *kicker(void *arg)
{
	usleep(50000);
	accel_soft.vcpu_kick(arg);
	return NULL;
}

static void test_halt(void)
{
	struct box b;
	box_new(&b, 2 * MiB);
	load_boot_sector(&b, SAMPLES "halt.bin");
	pthread_t t;
	pthread_create(&t, NULL, kicker, b.cpu);
	int r = box_run(&b, 10000);
	pthread_join(t, NULL);
	struct kvm_mp_state mp;
	accel_soft.get_mp_state(b.cpu, &mp);
	struct kvm_regs regs;
	accel_soft.get_regs(b.cpu, &regs);
	ok(r == -EINTR, "halt: run returns -EINTR only when kicked (r=%d)", r);
	ok(mp.mp_state == KVM_MP_STATE_HALTED && !(regs.rflags & 0x200), "halt: HALTED with IF=0");
	ok(strstr(b.out, "halting") != NULL, "halt prints first");
	box_free(&b);
}

static void test_hello64(void)
{
	struct box b;
	box_new(&b, 64 * MiB);
	int r = box_load(&b, SAMPLES "hello64.elf");
	ok(r == 0, "hello64 loads (%d)", r);
	r = box_run(&b, 100000);
	ok(r == KVM_EXIT_IO && b.exit_code == 0x30, "hello64 exits 0x30 (r=%d code=%#x)", r, b.exit_code);
	ok(strstr(b.out, "Hello from long mode!\n") && strstr(b.out, "timer: 10 ticks\n"),
	   "hello64 output: %.*s", b.nout, b.out);
	box_free(&b);
}

__asm__(".pushsection .rodata\n"
	"smc_code: xor %ecx, %ecx\nxor %edx, %edx\n"
	"1: mov $1, %ebx\nadd %ebx, %ecx\ninc %edx\ncmp $3, %ecx\njne 2f\n"
	"movb $100, 1b+1(%rip)\n"
	"2: cmp $50, %ecx\njb 1b\nout %al, $0xf4\nsmc_end:\n"
	".popsection\n");
extern const uint8_t smc_code[], smc_end[];

/* Self-modifying code: a loop whose cached block is patched by the guest. */
static void test_smc(void)
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
	memcpy(b.ram.host + 0x10000, smc_code, smc_end - smc_code);
	int r = box_run(&b, 10);
	accel_soft.get_regs(b.cpu, &regs);
	ok(r == KVM_EXIT_IO && regs.rcx == 103 && regs.rdx == 4,
	   "a patched instruction in a cached loop runs patched (ecx=%llu, %llu rounds)",
	   (unsigned long long)regs.rcx, (unsigned long long)regs.rdx);
	/* the VMM patches it back through its own pointer between two runs: the
	 * blocks recheck their bytes in a new vcpu_run */
	b.ram.host[0x10005] = 1;
	regs.rip = 0x10000;
	accel_soft.set_regs(b.cpu, &regs);
	b.exit_code = -1;
	r = box_run(&b, 10);
	accel_soft.get_regs(b.cpu, &regs);
	ok(r == KVM_EXIT_IO && regs.rcx == 103 && regs.rdx == 4, "and after the VMM restores the byte (ecx=%llu)",
	   (unsigned long long)regs.rcx);
	/* once more, saying so with soft_vm_ram_written */
	b.ram.host[0x10005] = 1;
	soft_vm_ram_written(b.vm, 0x10005, 1);
	regs.rip = 0x10000;
	accel_soft.set_regs(b.cpu, &regs);
	b.exit_code = -1;
	r = box_run(&b, 10);
	accel_soft.get_regs(b.cpu, &regs);
	ok(r == KVM_EXIT_IO && regs.rcx == 103 && regs.rdx == 4, "and with soft_vm_ram_written (ecx=%llu)",
	   (unsigned long long)regs.rcx);
	box_free(&b);
}

/* soft_set_xsave loads a component whose XSTATE_BV bit is clear in its
 * initial state, as XRSTOR and KVM do: an image made elsewhere (a kvm
 * snapshot) with stale bytes there must not bring them back. */
static void test_xsave_init_state(void)
{
	struct box b;
	box_new(&b, 1 * MiB);
	static struct kvm_xsave x;
	accel_soft.get_xsave(b.cpu, &x);
	uint8_t *a = (uint8_t *)x.region;
	memset(a, 0x5a, 24);              /* FCW, FSW, FTW, FOP, FIP, FDP */
	memset(a + 32, 0x5a, 128);        /* ST0-7 */
	memset(a + 160, 0x5a, 256);       /* XMM0-15 */
	memset(a + 512, 0, 8);            /* XSTATE_BV: neither x87 nor SSE in use */
	accel_soft.set_xsave(b.cpu, &x);
	struct kvm_fpu f;
	accel_soft.get_fpu(b.cpu, &f);
	static const uint8_t zero[16];
	bool clean = f.fcw == 0x37f && f.fsw == 0 && f.ftwx == 0 && f.last_ip == 0 &&
		     memcmp(f.fpr[3], zero, 10) == 0 && memcmp(f.xmm[7], zero, 16) == 0;
	ok(clean, "set_xsave with XSTATE_BV 0 loads x87 and SSE in their initial state (fcw 0x%x)", f.fcw);
	a[512] = 3;                       /* now both in use: the image's bytes count */
	accel_soft.set_xsave(b.cpu, &x);
	accel_soft.get_fpu(b.cpu, &f);
	ok(f.fcw == 0x5a5a && f.xmm[7][0] == 0x5a, "and with both bits set, the image's x87 and SSE bytes");
	box_free(&b);
}

/* MXCSR's reserved bits would fault the host when the soft CPU loads the
 * guest's MXCSR to run SSE arithmetic: both setters refuse them, as KVM
 * does, and keep what the vCPU had. */
static void test_mxcsr_reserved(void)
{
	struct box b;
	box_new(&b, 1 * MiB);
	struct kvm_fpu f;
	accel_soft.get_fpu(b.cpu, &f);
	uint32_t before = f.mxcsr;
	f.mxcsr = 0x11f80;
	int r1 = accel_soft.set_fpu(b.cpu, &f);
	static struct kvm_xsave x;
	accel_soft.get_xsave(b.cpu, &x);
	uint32_t bad = 0x80001f80;
	memcpy((uint8_t *)x.region + 24, &bad, 4);
	int r2 = accel_soft.set_xsave(b.cpu, &x);
	accel_soft.get_fpu(b.cpu, &f);
	ok(r1 == -EINVAL && r2 == -EINVAL && f.mxcsr == before,
	   "set_fpu and set_xsave refuse MXCSR with reserved bits (%d, %d; mxcsr 0x%x)", r1, r2, f.mxcsr);
	box_free(&b);
}

int main(void)
{
	if (access(SAMPLES "boot16.bin", R_OK))
		tap_skip_all("samples not built (make samples)");
	tap_plan(28);
	test_boot16();
	test_counter();
	test_echo();
	test_triple();
	test_halt();
	test_mb32();
	test_devtest();
	test_hello64();
	test_smc();
	test_immediate_exit();
	test_xsave_init_state();
	test_mxcsr_reserved();
	return tap_done();
}
