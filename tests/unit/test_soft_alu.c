/* test_soft_alu: differential test of the soft CPU's integer instructions
 * against the host CPU. Each case is one instruction on RAX/RBX/RCX/RDX,
 * assembled once into a host function (load the registers and RFLAGS, run
 * it, store them) whose instruction bytes are also copied into a long-mode
 * guest and run by accel_soft. Random and edge-case operands; results and
 * the flags the instruction defines must match. */
#include <unistd.h>

#include "tap.h"
#include "test_soft_box.h"

#define MiB (1ull << 20)

/* r[0..3] = rax, rbx, rcx, rdx; r[4] = rflags */
#define CASE(id, insn)                                                         \
	__asm__(".text\n.globl nat_" #id "\nnat_" #id ":\n"                        \
		"push %rbx\npush %rbp\nmov %rdi, %rbp\n"                               \
		"mov 32(%rbp), %rax\npush %rax\npopfq\n"                              \
		"mov 0(%rbp), %rax\nmov 8(%rbp), %rbx\nmov 16(%rbp), %rcx\nmov 24(%rbp), %rdx\n" \
		".globl bytes_" #id "\nbytes_" #id ":\n" insn "\n"                  \
		".globl end_" #id "\nend_" #id ":\n"                                \
		"pushfq\nmov %rax, 0(%rbp)\npop %rax\nmov %rax, 32(%rbp)\n"           \
		"mov %rbx, 8(%rbp)\nmov %rcx, 16(%rbp)\nmov %rdx, 24(%rbp)\n"          \
		"pop %rbp\npop %rbx\nret\n");                                          \
	void nat_##id(uint64_t *r);                                                \
	extern const uint8_t bytes_##id[], end_##id[];

enum fix { F_NONE, F_DIV, F_IDIV };

struct tcase {
	const char *name;
	void (*nat)(uint64_t *);
	const uint8_t *b, *e;
	uint32_t flags;    /* the flags the instruction defines */
	int cmod;          /* rcx %= cmod before running (shift counts), 0: no */
	enum fix fix;
	int size;          /* operand size for F_DIV/F_IDIV */
};

#define ALL 0x8d5
#define LOGIC 0x8c5
#define SZPC 0xc5
#define T(id, insn, fl, cm, fx, sz) CASE(id, insn)
#include "test_soft_alu.def"
#undef T
#define T(id, insn, fl, cm, fx, sz) { #insn, nat_##id, bytes_##id, end_##id, fl, cm, fx, sz },
static const struct tcase cases[] = {
#include "test_soft_alu.def"
};
#undef T

static uint64_t rnd_state = 0x1234567887654321ull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static uint64_t operand(void)
{
	static const uint64_t special[] = { 0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
					    0x7fffffff, 0x80000000, 0xffffffff, 0x7fffffffffffffffull,
					    0x8000000000000000ull, ~0ull, ~1ull };
	switch (rnd() % 4) {
	case 0: return special[rnd() % 16];
	case 1: return rnd() & 0xff;
	default: return rnd();
	}
}

static uint64_t mask(int size)
{
	return size == 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

static void fix_inputs(const struct tcase *t, uint64_t *r)
{
	if (t->cmod)
		r[2] = (r[2] & ~0xffull) | ((r[2] & 0xff) % t->cmod);
	if (t->fix == F_NONE)
		return;
	int s = t->size;
	uint64_t m = mask(s);
	if ((r[1] & m) == 0)
		r[1] |= 1;
	if (t->fix == F_IDIV && ((r[1] & m) == m))
		r[1] = (r[1] & ~m) | 3;
	uint64_t b = r[1] & m;
	if (s == 1) {
		uint64_t ah = (r[0] >> 8) & 0xff;
		if (t->fix == F_DIV)
			ah %= b;
		else
			ah = (r[0] & 0x80) ? 0xff : 0;
		r[0] = (r[0] & ~0xff00ull) | (ah << 8);
		return;
	}
	uint64_t hi = r[3] & m;
	if (t->fix == F_DIV)
		hi %= b;
	else
		hi = ((r[0] >> (s * 8 - 1)) & 1) ? m : 0;
	r[3] = (r[3] & ~m) | hi;
}

static struct box box;

/* Runs the instruction in the soft CPU; false if it did not reach the out. */
static bool soft_run(const struct tcase *t, uint64_t *r)
{
	size_t n = t->e - t->b;
	uint8_t *code = box.ram.host + 0x10000;
	memcpy(code, t->b, n);
	code[n] = 0xe6; /* out %al, $0x99 */
	code[n + 1] = 0x99;
	soft_vm_ram_written(box.vm, 0x10000, n + 2); /* the VMM wrote guest code */
	struct kvm_regs regs;
	accel_soft.get_regs(box.cpu, &regs);
	regs.rax = r[0];
	regs.rbx = r[1];
	regs.rcx = r[2];
	regs.rdx = r[3];
	regs.rflags = r[4];
	regs.rip = 0x10000;
	regs.rsp = 0x8000;
	accel_soft.set_regs(box.cpu, &regs);
	int rc = accel_soft.vcpu_run(box.cpu);
	if (rc || box.run->exit_reason != KVM_EXIT_IO || box.run->io.port != 0x99)
		return false;
	accel_soft.get_regs(box.cpu, &regs);
	r[0] = regs.rax;
	r[1] = regs.rbx;
	r[2] = regs.rcx;
	r[3] = regs.rdx;
	r[4] = regs.rflags;
	return true;
}

static int run_case(const struct tcase *t, int iters)
{
	for (int k = 0; k < iters; k++) {
		uint64_t in[5], nat[5], sft[5];
		for (int j = 0; j < 4; j++)
			in[j] = operand();
		in[4] = (rnd() & 0x8d5) | 0x202;
		fix_inputs(t, in);
		memcpy(nat, in, sizeof(in));
		memcpy(sft, in, sizeof(in));
		t->nat(nat);
		if (!soft_run(t, sft)) {
			printf("#   %s: soft CPU did not finish (exit %u)\n", t->name, box.run->exit_reason);
			return 0;
		}
		bool same = !memcmp(nat, sft, 4 * 8) && !((nat[4] ^ sft[4]) & t->flags);
		if (!same) {
			printf("#   %s: in  rax=%llx rbx=%llx rcx=%llx rdx=%llx fl=%llx\n", t->name,
			       (unsigned long long)in[0], (unsigned long long)in[1], (unsigned long long)in[2],
			       (unsigned long long)in[3], (unsigned long long)in[4]);
			printf("#   host rax=%llx rbx=%llx rcx=%llx rdx=%llx fl=%llx\n", (unsigned long long)nat[0],
			       (unsigned long long)nat[1], (unsigned long long)nat[2], (unsigned long long)nat[3],
			       (unsigned long long)nat[4]);
			printf("#   soft rax=%llx rbx=%llx rcx=%llx rdx=%llx fl=%llx\n", (unsigned long long)sft[0],
			       (unsigned long long)sft[1], (unsigned long long)sft[2], (unsigned long long)sft[3],
			       (unsigned long long)sft[4]);
			return 0;
		}
	}
	return 1;
}

int main(void)
{
	int n = sizeof(cases) / sizeof(cases[0]);
	tap_plan(n + 1);
	int r = box_new(&box, 4 * MiB);
	struct boot_plan plan;
	memset(&plan, 0, sizeof(plan));
	plan.mode = MODE_LONG64;
	plan.entry = 0x10000;
	plan.stack = 0x8000;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	accel_soft.get_regs(box.cpu, &regs);
	accel_soft.get_sregs(box.cpu, &sregs);
	if (!r)
		r = boot_prepare(&box.ram, &plan, &regs, &sregs);
	accel_soft.set_sregs(box.cpu, &sregs);
	accel_soft.set_regs(box.cpu, &regs);
	ok(r == 0, "a long-mode guest for the instructions");
	for (int k = 0; k < n; k++)
		ok(run_case(&cases[k], 3000), "%s matches the host", cases[k].name);
	box_free(&box);
	return tap_done();
}
