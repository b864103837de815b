/* fuzz_softcpu: hostile guest code on the soft CPU. The soft CPU runs inside
 * hvwb's own process, so whatever bytes a guest executes, in whatever mode,
 * must end in an exit KVM could give (an I/O or MMIO exit, a shutdown, an
 * emulation failure, a debug exit), never in a crash, a sanitizer report or
 * a hang of the host.
 *
 * Input: byte 0 picks the mode (bits 0-1: real, 32-bit protected, 64-bit
 * long, 64-bit long at ring 3), whether interrupts are on (bit 2), whether
 * every instruction single-steps (bit 3), the PIT ticking IRQ0 (bit 4);
 * bytes 1-16 seed the general registers; the rest is the code, copied to
 * CODE and repeated through the first 64 KiB so that data reads, jumps and
 * the IDT's handler all land in fuzzer-chosen bytes. Each input runs on a
 * fresh VM, bounded as fuzz_soft.h says. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fuzz/fuzz_soft.h"

#define RAM_SIZE  (2u << 20)
#define CODE      0x1000u
#define PML4      0x70000u       /* 64-bit modes: identity map of 1 GiB in 2 MiB pages */
#define GDT       0x7f000u
#define IDT       0x7e000u
#define TSS       0x7d000u
#define HANDLER   0x2000u        /* every IDT gate points here: fuzzer bytes too */
#define STACK     0x60000u

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_soft_init(RAM_SIZE);
	return 0;
}

static void put64(uint32_t at, uint64_t v)
{
	memcpy(fuzz_ram + at, &v, 8);
}

static struct kvm_segment seg(uint16_t sel, uint8_t type, int dpl, bool l, bool db)
{
	return (struct kvm_segment){ .base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
				     .present = 1, .dpl = (uint8_t)dpl, .db = db, .s = 1, .l = l, .g = 1 };
}

/* Descriptor tables and page tables for the protected and long modes. The
 * gates all lead to HANDLER at ring 0 (64-bit: on the same stack). */
static void build_tables(int mode)
{
	static const uint64_t gdt[] = {
		0, 0x00cf9a000000ffffull /* 0x08 code32 */, 0x00cf92000000ffffull /* 0x10 data */,
		0x00af9a000000ffffull /* 0x18 code64 */, 0x00cffa000000ffffull /* 0x23 code32 ring 3 */,
		0x00cff2000000ffffull /* 0x2b data ring 3 */, 0x00affa000000ffffull /* 0x33 code64 ring 3 */,
	};
	memcpy(fuzz_ram + GDT, gdt, sizeof(gdt));
	for (int v = 0; v < 256; v++) {
		uint8_t *g = fuzz_ram + IDT + (mode >= 2 ? 16 : 8) * v;
		uint16_t sel = mode >= 2 ? 0x18 : 0x08;
		memset(g, 0, mode >= 2 ? 16 : 8);
		g[0] = HANDLER & 0xff;
		g[1] = (HANDLER >> 8) & 0xff;
		g[2] = sel & 0xff;
		g[5] = 0xee;   /* present, DPL 3 (int n from ring 3 reaches it), interrupt gate */
	}
	if (mode >= 2) {
		put64(PML4, (PML4 + 0x1000) | 7);
		put64(PML4 + 0x1000, (PML4 + 0x2000) | 7);
		for (uint64_t i = 0; i < 512; i++)
			put64(PML4 + 0x2000 + 8 * (uint32_t)i, (i << 21) | 0x87);
	}
}

static void set_mode(const struct accel_ops *a, struct accel_vcpu *v, int mode, const uint8_t *seed,
		     bool irqs)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	a->get_regs(v, &r);
	a->get_sregs(v, &s);
	uint64_t gpr[16];   /* rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8-r15: kvm_regs' order */
	for (int i = 0; i < 16; i++)
		gpr[i] = seed[i] & 0x80 ? (uint64_t)(int64_t)(int8_t)seed[i] * 4096 : seed[i];
	memcpy(&r, gpr, sizeof(gpr));
	r.rsp = STACK;
	r.rip = CODE;
	r.rflags = 2 | (irqs ? 0x200 : 0);
	if (mode == 0) {
		s.cs.base = 0;
		s.cs.selector = 0;
	} else {
		build_tables(mode);
		s.gdt.base = GDT;
		s.gdt.limit = 7 * 8 - 1;
		s.idt.base = IDT;
		s.idt.limit = (mode >= 2 ? 16 : 8) * 256 - 1;
		s.cr0 = 0x80050033ull & (mode >= 2 ? ~0ull : ~0x80000000ull);  /* PE MP ET NE WP AM (PG) */
		s.cr4 = 0x600 | (mode >= 2 ? 0x20 : 0);                        /* OSFXSR OSXMMEXCPT (PAE) */
		bool user = mode == 3;
		struct kvm_segment code = mode >= 2 ? seg(user ? 0x33 : 0x18, 0xb, user ? 3 : 0, true, false)
						    : seg(0x08, 0xb, 0, false, true);
		struct kvm_segment data = seg(user ? 0x2b : 0x10, 0x3, user ? 3 : 0, false, true);
		s.cs = code;
		s.ds = s.es = s.fs = s.gs = s.ss = data;
		if (mode >= 2) {
			s.cr3 = PML4;
			s.efer = 0x500 | 0x800;   /* LME LMA NXE */
		}
		/* a 64-bit TSS for ring 3's interrupts: RSP0 = STACK */
		s.tr = (struct kvm_segment){ .base = TSS, .limit = 0x67, .type = 0xb, .present = 1 };
		put64(TSS + 4, STACK);
	}
	a->set_sregs(v, &s);
	a->set_regs(v, &r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 18)
		return 0;
	const struct accel_ops *a = &accel_soft;
	uint8_t how = data[0];
	const uint8_t *code = data + 17;
	size_t ncode = size - 17;
	memset(fuzz_ram, 0, RAM_SIZE);
	for (uint32_t at = 0; at < 0x10000; at += (uint32_t)ncode)
		memcpy(fuzz_ram + at, code, ncode < 0x10000 - at ? ncode : 0x10000 - at);
	memcpy(fuzz_ram + CODE, code, ncode < RAM_SIZE - CODE ? ncode : RAM_SIZE - CODE);

	struct fuzz_box b;
	fuzz_box_new(&b);
	set_mode(a, b.cpu, how & 3, data + 1, how & 4);
	if (how & 8) {
		struct kvm_guest_debug dbg = { .control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP };
		a->set_guest_debug(b.cpu, &dbg);
	}
	if (how & 16) {   /* the PIT on IRQ0 in mode 2 */
		struct kvm_pit_state2 pit;
		a->get_pit(b.vm, &pit);
		pit.channels[0].count = 1000;
		pit.channels[0].mode = 2;
		a->set_pit(b.vm, &pit);
	}
	fuzz_run(&b, code, ncode);
	fuzz_box_free(&b);
	return 0;
}
