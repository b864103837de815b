/* fuzz_softstate: hostile vCPU and interrupt-controller state handed to the
 * soft accelerator, as a crafted snapshot file hands it (engine/state/
 * snap_cpu.c passes each record to the accelerator's setter). KVM checks such
 * state in the kernel; the soft CPU must check it as well: every setter
 * either refuses a record or takes it, and whatever it took must then run,
 * interrupt and be read back without a crash or a sanitizer report.
 *
 * Input: a sequence of records, each a tag byte (which setter) and that
 * setter's struct (zero-padded where the input ends); the same bytes,
 * repeated, fill the first 64 KiB of RAM. Then the vCPU runs, bounded as
 * fuzz_soft.h says, and every getter is called. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fuzz/fuzz_soft.h"

#define RAM_SIZE (1u << 20)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_soft_init(RAM_SIZE);
	return 0;
}

struct input {
	const uint8_t *p;
	size_t n;
};

/* The next `size` bytes into out, zero-padded when the input runs short. */
static void take(struct input *in, void *out, size_t size)
{
	size_t k = in->n < size ? in->n : size;
	memset(out, 0, size);
	memcpy(out, in->p, k);
	in->p += k;
	in->n -= k;
}

/* Everything a record may hold, one at a time. */
union record {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	struct kvm_xsave xsave;
	struct kvm_xcrs xcrs;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp;
	struct kvm_lapic_state lapic;
	struct kvm_debugregs dr;
	struct kvm_guest_debug dbg;
	struct kvm_irqchip chip;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	/* the headers of these two end in flexible arrays: room for 8 and 16 */
	_Alignas(8) uint8_t msrs[sizeof(struct kvm_msrs) + 8 * sizeof(struct kvm_msr_entry)];
	_Alignas(8) uint8_t cpuid[sizeof(struct kvm_cpuid2) + 16 * sizeof(struct kvm_cpuid_entry2)];
	uint32_t irq[2];
};

static void apply(struct fuzz_box *b, uint8_t tag, struct input *in)
{
	static union record r;
	const struct accel_ops *a = &accel_soft;
	struct accel_vcpu *v = b->cpu;
	switch (tag % 16) {
	case 0: take(in, &r.regs, sizeof(r.regs)); a->set_regs(v, &r.regs); break;
	case 1: take(in, &r.sregs, sizeof(r.sregs)); a->set_sregs(v, &r.sregs); break;
	case 2: take(in, &r.fpu, sizeof(r.fpu)); a->set_fpu(v, &r.fpu); break;
	case 3: take(in, &r.xsave, sizeof(r.xsave)); a->set_xsave(v, &r.xsave); break;
	case 4: take(in, &r.xcrs, sizeof(r.xcrs)); a->set_xcrs(v, &r.xcrs); break;
	case 5:
		take(in, r.msrs, sizeof(r.msrs));
		((struct kvm_msrs *)r.msrs)->nmsrs %= 9;   /* the count says how many entries follow */
		a->set_msrs(v, (struct kvm_msrs *)r.msrs);
		break;
	case 6: take(in, &r.events, sizeof(r.events)); a->set_events(v, &r.events); break;
	case 7: take(in, &r.mp, sizeof(r.mp)); a->set_mp_state(v, &r.mp); break;
	case 8: take(in, &r.lapic, sizeof(r.lapic)); a->set_lapic(v, &r.lapic); break;
	case 9: take(in, &r.dr, sizeof(r.dr)); a->set_debugregs(v, &r.dr); break;
	case 10: take(in, &r.dbg, sizeof(r.dbg)); a->set_guest_debug(v, &r.dbg); break;
	case 11: take(in, &r.chip, sizeof(r.chip)); a->set_irqchip(b->vm, &r.chip); break;
	case 12: take(in, &r.pit, sizeof(r.pit)); a->set_pit(b->vm, &r.pit); break;
	case 13: take(in, &r.clock, sizeof(r.clock)); a->set_clock(b->vm, &r.clock); break;
	case 14:
		take(in, r.cpuid, sizeof(r.cpuid));
		((struct kvm_cpuid2 *)r.cpuid)->nent %= 17;
		a->set_cpuid(v, (struct kvm_cpuid2 *)r.cpuid);
		break;
	default: take(in, r.irq, sizeof(r.irq)); a->irq_line(b->vm, r.irq[0], (int)r.irq[1]); break;
	}
}

/* Every getter, as a snapshot save or the debugger's views would call them. */
static void read_back(struct fuzz_box *b)
{
	static union record r;
	const struct accel_ops *a = &accel_soft;
	struct accel_vcpu *v = b->cpu;
	a->get_regs(v, &r.regs);
	a->get_sregs(v, &r.sregs);
	a->get_fpu(v, &r.fpu);
	a->get_xsave(v, &r.xsave);
	a->get_xcrs(v, &r.xcrs);
	a->get_events(v, &r.events);
	a->get_mp_state(v, &r.mp);
	a->get_lapic(v, &r.lapic);
	a->get_debugregs(v, &r.dr);
	for (uint32_t id = 0; id < 3; id++) {
		r.chip.chip_id = id;
		a->get_irqchip(b->vm, &r.chip);
	}
	a->get_pit(b->vm, &r.pit);
	a->get_clock(b->vm, &r.clock);
	((struct kvm_cpuid2 *)r.cpuid)->nent = 16;
	a->get_cpuid(v, (struct kvm_cpuid2 *)r.cpuid);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	memset(fuzz_ram, 0, RAM_SIZE);
	for (uint32_t at = 0; at < 0x10000; at += (uint32_t)size)
		memcpy(fuzz_ram + at, data, size < 0x10000 - at ? size : 0x10000 - at);
	struct fuzz_box b;
	fuzz_box_new(&b);
	/* Before any record: real mode at 0000:1000, in the input's bytes, so
	 * the guest touches the PIC, PIT, LAPIC and IOAPIC it was handed. */
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	accel_soft.get_regs(b.cpu, &regs);
	accel_soft.get_sregs(b.cpu, &sregs);
	regs.rip = 0x1000;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	accel_soft.set_sregs(b.cpu, &sregs);
	accel_soft.set_regs(b.cpu, &regs);
	struct input in = { data, size };
	while (in.n) {
		uint8_t tag = *in.p++;
		in.n--;
		apply(&b, tag, &in);
	}
	fuzz_run(&b, data, size);
	read_back(&b);
	fuzz_box_free(&b);
	return 0;
}
