/* test_soft_simd: differential test of the soft CPU's SSE/SSE2 integer and
 * floating-point instructions against the host: each case runs one instruction on XMM0
 * (destination), XMM1 (source) and RAX with random lanes (for the floating-
 * point ones: NaNs, infinities and denormals among them), natively and in a
 * long-mode guest (XMM state in and out through get/set_fpu), and compares
 * XMM0, XMM1 and RAX. */
#include <unistd.h>

#include "tap.h"
#include "test_soft_box.h"

/* s[0..15] xmm0, s[16..31] xmm1, s[32..39] rax */
#define CASE(id, insn)                                                          \
	__asm__(".text\n.globl sn_" #id "\nsn_" #id ":\n"                           \
		"movdqu 0(%rdi), %xmm0\nmovdqu 16(%rdi), %xmm1\nmov 32(%rdi), %rax\n"   \
		".globl sb_" #id "\nsb_" #id ":\n" insn "\n.globl se_" #id "\nse_" #id ":\n" \
		"movdqu %xmm0, 0(%rdi)\nmovdqu %xmm1, 16(%rdi)\nmov %rax, 32(%rdi)\nret\n"); \
	void sn_##id(uint8_t *s);                                                   \
	extern const uint8_t sb_##id[], se_##id[];

#define T(id, insn) CASE(id, insn)
#define SIMD_CASES \
	T(paddb, "paddb %xmm1, %xmm0") T(paddw, "paddw %xmm1, %xmm0") T(paddd, "paddd %xmm1, %xmm0") \
	T(paddq, "paddq %xmm1, %xmm0") T(psubb, "psubb %xmm1, %xmm0") T(psubq, "psubq %xmm1, %xmm0") \
	T(paddsb, "paddsb %xmm1, %xmm0") T(paddusw, "paddusw %xmm1, %xmm0") T(psubsw, "psubsw %xmm1, %xmm0") \
	T(psubusb, "psubusb %xmm1, %xmm0") T(pcmpeqb, "pcmpeqb %xmm1, %xmm0") T(pcmpeqd, "pcmpeqd %xmm1, %xmm0") \
	T(pcmpgtb, "pcmpgtb %xmm1, %xmm0") T(pcmpgtw, "pcmpgtw %xmm1, %xmm0") T(pminub, "pminub %xmm1, %xmm0") \
	T(pmaxub, "pmaxub %xmm1, %xmm0") T(pminsw, "pminsw %xmm1, %xmm0") T(pmaxsw, "pmaxsw %xmm1, %xmm0") \
	T(pavgb, "pavgb %xmm1, %xmm0") T(pavgw, "pavgw %xmm1, %xmm0") T(pmullw, "pmullw %xmm1, %xmm0") \
	T(pmulhw, "pmulhw %xmm1, %xmm0") T(pmulhuw, "pmulhuw %xmm1, %xmm0") T(pmuludq, "pmuludq %xmm1, %xmm0") \
	T(pmaddwd, "pmaddwd %xmm1, %xmm0") T(psadbw, "psadbw %xmm1, %xmm0") \
	T(psrlw_i, "psrlw $3, %xmm0") T(psraw_i, "psraw $15, %xmm0") T(pslld_i, "pslld $7, %xmm0") \
	T(psrad_i, "psrad $40, %xmm0") T(psrlq_i, "psrlq $33, %xmm0") T(psllq_i, "psllq $1, %xmm0") \
	T(psrldq, "psrldq $5, %xmm0") T(pslldq, "pslldq $11, %xmm0") \
	T(psrlw_x, "psrlw %xmm1, %xmm0") T(psllq_x, "psllq %xmm1, %xmm0") T(psrad_x, "psrad %xmm1, %xmm0") \
	T(punpcklbw, "punpcklbw %xmm1, %xmm0") T(punpckhwd, "punpckhwd %xmm1, %xmm0") \
	T(punpckldq, "punpckldq %xmm1, %xmm0") T(punpckhqdq, "punpckhqdq %xmm1, %xmm0") \
	T(packsswb, "packsswb %xmm1, %xmm0") T(packuswb, "packuswb %xmm1, %xmm0") T(packssdw, "packssdw %xmm1, %xmm0") \
	T(pshufd, "pshufd $0x1b, %xmm1, %xmm0") T(pshufhw, "pshufhw $0x8d, %xmm1, %xmm0") \
	T(pshuflw, "pshuflw $0x72, %xmm1, %xmm0") T(shufps, "shufps $0x4e, %xmm1, %xmm0") \
	T(unpcklps, "unpcklps %xmm1, %xmm0") T(unpckhpd, "unpckhpd %xmm1, %xmm0") \
	T(pmovmskb, "pmovmskb %xmm1, %eax") T(movmskps, "movmskps %xmm1, %eax") T(movmskpd, "movmskpd %xmm1, %eax") \
	T(pextrw, "pextrw $5, %xmm1, %eax") T(pinsrw, "pinsrw $3, %eax, %xmm0") \
	T(movhlps, "movhlps %xmm1, %xmm0") T(movlhps, "movlhps %xmm1, %xmm0") \
	T(pxor, "pxor %xmm1, %xmm0") T(pand, "pand %xmm1, %xmm0") T(pandn, "pandn %xmm1, %xmm0") \
	T(por, "por %xmm1, %xmm0") T(movd, "movd %eax, %xmm0") T(movq_r, "movq %xmm1, %rax") \
	T(movq_x, "movq %xmm1, %xmm0") T(movdqa, "movdqa %xmm1, %xmm0") T(movss, "movss %xmm1, %xmm0") \
	T(addps, "addps %xmm1, %xmm0") T(addpd, "addpd %xmm1, %xmm0") T(addss, "addss %xmm1, %xmm0") \
	T(addsd, "addsd %xmm1, %xmm0") T(mulps, "mulps %xmm1, %xmm0") T(subsd, "subsd %xmm1, %xmm0") \
	T(divps, "divps %xmm1, %xmm0") T(divsd, "divsd %xmm1, %xmm0") T(minps, "minps %xmm1, %xmm0") \
	T(maxsd, "maxsd %xmm1, %xmm0") T(sqrtps, "sqrtps %xmm1, %xmm0") T(sqrtsd, "sqrtsd %xmm1, %xmm0") \
	T(cvtps2pd, "cvtps2pd %xmm1, %xmm0") T(cvtpd2ps, "cvtpd2ps %xmm1, %xmm0") \
	T(cvtss2sd, "cvtss2sd %xmm1, %xmm0") T(cvtsd2ss, "cvtsd2ss %xmm1, %xmm0") \
	T(cvtdq2ps, "cvtdq2ps %xmm1, %xmm0") T(cvtps2dq, "cvtps2dq %xmm1, %xmm0") \
	T(cvttps2dq, "cvttps2dq %xmm1, %xmm0") T(cvttpd2dq, "cvttpd2dq %xmm1, %xmm0") \
	T(cvtdq2pd, "cvtdq2pd %xmm1, %xmm0") T(cvtpd2dq, "cvtpd2dq %xmm1, %xmm0") \
	T(cvtsi2sdq, "cvtsi2sdq %rax, %xmm0") T(cvtsi2ssl, "cvtsi2ssl %eax, %xmm0") \
	T(cvttsd2siq, "cvttsd2si %xmm1, %rax") T(cvtsd2sil, "cvtsd2si %xmm1, %eax") \
	T(cvttss2sil, "cvttss2si %xmm1, %eax") T(cvtss2siq, "cvtss2si %xmm1, %rax") \
	T(ucomisd, "ucomisd %xmm1, %xmm0; lahf") T(comiss, "comiss %xmm1, %xmm0; lahf") \
	T(cmpltps, "cmpltps %xmm1, %xmm0") T(cmpunordsd, "cmpunordsd %xmm1, %xmm0") \
	T(cmpordpd, "cmpordpd %xmm1, %xmm0") T(cmpneqss, "cmpneqss %xmm1, %xmm0")
SIMD_CASES
#undef T
#define T(id, insn) { insn, sn_##id, sb_##id, se_##id },
static const struct scase {
	const char *name;
	void (*nat)(uint8_t *);
	const uint8_t *b, *e;
} cases[] = { SIMD_CASES };
#undef T

static uint64_t st = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	st ^= st << 13;
	st ^= st >> 7;
	st ^= st << 17;
	return st;
}

static struct box box;

static bool soft_run(const struct scase *t, uint8_t *s)
{
	size_t n = t->e - t->b;
	uint8_t *code = box.ram.host + 0x10000;
	memcpy(code, t->b, n);
	code[n] = 0xe6;
	code[n + 1] = 0x99;
	soft_vm_ram_written(box.vm, 0x10000, n + 2);
	struct kvm_fpu f;
	accel_soft.get_fpu(box.cpu, &f);
	memcpy(f.xmm[0], s, 16);
	memcpy(f.xmm[1], s + 16, 16);
	accel_soft.set_fpu(box.cpu, &f);
	struct kvm_regs r;
	accel_soft.get_regs(box.cpu, &r);
	memcpy(&r.rax, s + 32, 8);
	r.rip = 0x10000;
	accel_soft.set_regs(box.cpu, &r);
	if (accel_soft.vcpu_run(box.cpu) || box.run->exit_reason != KVM_EXIT_IO)
		return false;
	accel_soft.get_fpu(box.cpu, &f);
	accel_soft.get_regs(box.cpu, &r);
	memcpy(s, f.xmm[0], 16);
	memcpy(s + 16, f.xmm[1], 16);
	memcpy(s + 32, &r.rax, 8);
	return true;
}

static int run_case(const struct scase *t)
{
	for (int k = 0; k < 500; k++) {
		uint8_t in[40], nat[40], sft[40];
		for (int j = 0; j < 40; j += 8) {
			uint64_t v = rnd();
			if (k % 4 == 0)
				v &= 0x8080808080808080ull * (rnd() & 1) | 0x0101010101010101ull * (rnd() & 0x7f);
			memcpy(in + j, &v, 8);
		}
		if (k % 8 == 1)
			memcpy(in + 16, in, 16); /* equal lanes */
		in[16] &= 0x3f; /* shift counts by register: mostly in range */
		memset(in + 17, 0, 7);
		if (k % 5 == 0)
			in[16] = 70;
		memcpy(nat, in, 40);
		memcpy(sft, in, 40);
		t->nat(nat);
		if (!soft_run(t, sft)) {
			printf("#   %s: did not finish (exit %u)\n", t->name, box.run->exit_reason);
			return 0;
		}
		if (memcmp(nat, sft, 40)) {
			printf("#   %s differs; in/host/soft:\n#  ", t->name);
			for (int j = 0; j < 40; j++)
				printf("%02x", in[j]);
			printf("\n#  ");
			for (int j = 0; j < 40; j++)
				printf("%02x", nat[j]);
			printf("\n#  ");
			for (int j = 0; j < 40; j++)
				printf("%02x", sft[j]);
			printf("\n");
			return 0;
		}
	}
	return 1;
}

int main(void)
{
	int n = sizeof(cases) / sizeof(cases[0]);
	tap_plan(n);
	box_new(&box, 4 << 20);
	struct boot_plan plan;
	memset(&plan, 0, sizeof(plan));
	plan.mode = MODE_LONG64;
	plan.entry = 0x10000;
	plan.stack = 0x8000;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	accel_soft.get_regs(box.cpu, &regs);
	accel_soft.get_sregs(box.cpu, &sregs);
	boot_prepare(&box.ram, &plan, &regs, &sregs);
	sregs.cr4 |= 0x600; /* OSFXSR, OSXMMEXCPT */
	accel_soft.set_sregs(box.cpu, &sregs);
	accel_soft.set_regs(box.cpu, &regs);
	for (int k = 0; k < n; k++)
		ok(run_case(&cases[k]), "%s matches the host", cases[k].name);
	box_free(&box);
	return tap_done();
}
