/* tfleak: keeps the single-step trap flag out of the guest. To step, KVM sets
 * RFLAGS.TF; when the CPU delivers an interrupt or exception during a step,
 * the RFLAGS image it pushes for the handler carries that TF, and the guest's
 * iret would restore it after we stop stepping (the guest then takes a #DB of
 * its own). After each step we check whether RIP is at the entry of an
 * interrupt gate and, if so, clear TF in the frame the CPU just pushed. */
#include <string.h>
#include "engine/core/vm_internal.h"

#include "engine/debug/mmu.h"
#include "engine/debug/tfleak.h"
#include "engine/core/vm_internal.h"

#define TF (1ull << 8)

static int read_ram(void *opaque, uint64_t pa, void *buf, size_t len)
{
	struct vm *vm = opaque;
	if (pa >= vm->low_size || len > vm->low_size - pa)
		return -1;
	memcpy(buf, vm->mem + pa, len);
	return 0;
}

static int write_ram(void *opaque, uint64_t pa, const void *buf, size_t len)
{
	struct vm *vm = opaque;
	if (pa >= vm->low_size || len > vm->low_size - pa)
		return -1;
	memcpy(vm->mem + pa, buf, len);
	return 0;
}

/* How far above RSP to look: the handler may already have pushed a few
 * registers in the instruction that ended the step, plus an error code. */
#define SEARCH_BYTES 64

void tfleak_scrub(struct vcpu *v, uint64_t ip_before)
{
	struct vm *vm = v->vm;
	struct kvm_regs r;
	struct kvm_sregs s;
	if (v->acc->get_regs(v->av, &r) < 0 || v->acc->get_sregs(v->av, &s) < 0)
		return;
	int bits = !(s.cr0 & 1) ? 16 : (s.efer & 0x400) && s.cs.l ? 64 : 32;
	unsigned w = (unsigned)bits / 8;
	struct mmu_ctx ctx = { .cr0 = s.cr0, .cr3 = s.cr3, .cr4 = s.cr4, .efer = s.efer,
			       .read_phys = read_ram, .write_phys = write_ram, .opaque = vm };
	uint8_t stack[SEARCH_BYTES + 3 * 8];
	uint64_t base = s.ss.base + (bits == 64 ? r.rsp : r.rsp & 0xffffffff);
	if (bits == 16)
		base = s.ss.base + (r.rsp & 0xffff);
	if (mmu_read(&ctx, base, stack, sizeof(stack)) < 0)
		return;
	uint64_t mask = w == 8 ? ~0ull : (1ull << (8 * w)) - 1;
	/* The frame the CPU pushed: IP (the one we stepped from), CS, FLAGS with TF. */
	for (unsigned o = 0; o <= SEARCH_BYTES; o += w) {
		uint64_t ip = 0, cs = 0, flags = 0;
		memcpy(&ip, stack + o, w);
		memcpy(&cs, stack + o + w, w);
		memcpy(&flags, stack + o + 2 * w, w);
		if (ip == (ip_before & mask) && (cs & 0xffff) == s.cs.selector && (flags & TF)) {
			flags &= ~TF;
			mmu_write(&ctx, base + o + 2 * w, &flags, w);
			return;
		}
	}
}
