/* test_soft_smp: two soft vCPUs in two threads each add 1 to one counter
 * 500,000 times with `lock incq`: the counter must end at exactly 1,000,000
 * (locked read-modify-writes are host atomics). Also times a one-vCPU
 * inc/cmp/jne loop and prints guest instructions per second. */
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "test_soft_box.h"

#define MiB (1ull << 20)
#define N 500000

__asm__(".pushsection .rodata\n"
	"l_code: mov $500000, %ecx\n1: lock incq 0x9000\ndec %ecx\njnz 1b\nout %al, $0xf4\nl_code_end:\n"
	"s_code: 1: inc %rax\ncmp %rbx, %rax\njne 1b\nout %al, $0xf4\ns_code_end:\n"
	".popsection\n");
extern const uint8_t l_code[], l_code_end[], s_code[], s_code_end[];

static struct box b;
static struct accel_vcpu *cpu1;
static struct kvm_run *run1;

struct runner {
	struct accel_vcpu *cpu;
	struct kvm_run *run;
	int reason;
};

static void *runner(void *arg)
{
	struct runner *r = arg;
	int rc = accel_soft.vcpu_run(r->cpu);
	r->reason = rc < 0 ? rc : (int)r->run->exit_reason;
	return NULL;
}

static void long_mode(struct accel_vcpu *cpu, uint64_t entry, uint64_t stack)
{
	struct boot_plan plan;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	memset(&plan, 0, sizeof(plan));
	plan.mode = MODE_LONG64;
	plan.entry = entry;
	plan.stack = stack;
	accel_soft.get_regs(cpu, &regs);
	accel_soft.get_sregs(cpu, &sregs);
	boot_prepare(&b.ram, &plan, &regs, &sregs);
	accel_soft.set_sregs(cpu, &sregs);
	accel_soft.set_regs(cpu, &regs);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
	tap_plan(3);
	box_new(&b, 4 * MiB);
	accel_soft.vcpu_create(b.vm, 1, &cpu1, &run1);
	memcpy(b.ram.host + 0x10000, l_code, l_code_end - l_code);
	long_mode(b.cpu, 0x10000, 0x8000);
	long_mode(cpu1, 0x10000, 0x7000);
	struct kvm_mp_state mp = { KVM_MP_STATE_RUNNABLE };
	accel_soft.set_mp_state(cpu1, &mp);
	struct runner r0 = { b.cpu, b.run, 0 }, r1 = { cpu1, run1, 0 };
	pthread_t t0, t1;
	pthread_create(&t0, NULL, runner, &r0);
	pthread_create(&t1, NULL, runner, &r1);
	pthread_join(t0, NULL);
	pthread_join(t1, NULL);
	uint64_t counter;
	memcpy(&counter, b.ram.host + 0x9000, 8);
	ok(r0.reason == KVM_EXIT_IO && r1.reason == KVM_EXIT_IO, "both vCPUs finish (%d, %d)", r0.reason, r1.reason);
	ok(counter == 2 * N, "lock incq from two vCPUs: %llu (want %d)", (unsigned long long)counter, 2 * N);

	memcpy(b.ram.host + 0x20000, s_code, s_code_end - s_code);
	long_mode(b.cpu, 0x20000, 0x8000);
	struct kvm_regs regs;
	accel_soft.get_regs(b.cpu, &regs);
	regs.rax = 0;
	regs.rbx = 30000000;
	accel_soft.set_regs(b.cpu, &regs);
	uint64_t before = soft_vcpu_insn_count(b.cpu);
	double t = now();
	int rc = accel_soft.vcpu_run(b.cpu);
	t = now() - t;
	uint64_t n = soft_vcpu_insn_count(b.cpu) - before;
	ok(rc == 0 && n == 3ull * 30000000 + 1, "inc/cmp/jne loop: %llu instructions", (unsigned long long)n);
	printf("# speed: %.1f million guest instructions/s (inc/cmp/jne loop)\n", n / t / 1e6);
	accel_soft.vcpu_destroy(cpu1);
	box_free(&b);
	return tap_done();
}
