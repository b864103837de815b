/* fallback: instructions the VMM completes when KVM's instruction emulator
 * cannot. On a host without hardware virtualization (PVM) every ring-0
 * instruction goes through that emulator, and a few that a kernel cannot avoid
 * by CPUID are missing. These are simple enough to do here, exactly:
 *  - int3 (CC) of the guest's own (hvwb's breakpoints are handled before):
 *    the CPU raises #BP as a trap, with RIP after the int3. Linux executes it at
 *    boot (its alternatives self-test) and whenever it patches live code.
 *  - fwait (9B): waits for pending x87 exceptions. With none pending it does
 *    nothing, so it completes as a no-op unless the FPU status word has an
 *    unmasked exception (ES, bit 7), when it stays a failure for a person to see.
 *    Linux runs it in fpu__drop whenever a task exits.
 *  - iret (CF) in 32-bit protected mode at ring 0 (fallback_iret.c): every
 *    interrupt handler of a 32-bit kernel ends with it.
 * Only in protected or long mode with an IDT the guest set up; the rest of the
 * vCPU's pending events are written back as they were read. */
#include "engine/debug/fallback.h"

#include <stdint.h>
#include "engine/core/vm_internal.h"

#define X87_ES 0x80

static bool deliver_bp(struct vcpu *v, struct kvm_regs *regs, const struct kvm_sregs *sr)
{
	struct kvm_vcpu_events ev;
	if (sr->idt.limit < 8 * 3 + 7 || v->acc->get_events(v->av, &ev) < 0 || ev.exception.injected)
		return false;
	regs->rip += 1;
	ev.exception.injected = 1;
	ev.exception.nr = 3;
	ev.exception.has_error_code = 0;
	ev.exception.error_code = 0;
	return v->acc->set_regs(v->av, regs) == 0 && v->acc->set_events(v->av, &ev) == 0;
}

static bool skip_fwait(struct vcpu *v, struct kvm_regs *regs)
{
	struct kvm_fpu fpu;
	if (v->acc->get_fpu(v->av, &fpu) < 0 || (fpu.fsw & X87_ES))
		return false;
	regs->rip += 1;
	return v->acc->set_regs(v->av, regs) == 0;
}

static bool fallback_emulate(struct vcpu *v)
{
	const struct kvm_run *r = v->run;
	struct kvm_regs regs;
	struct kvm_sregs sr;
	if (r->internal.suberror != KVM_INTERNAL_ERROR_EMULATION ||
	    !(r->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) ||
	    r->emulation_failure.insn_size < 1)
		return false;
	uint8_t op = r->emulation_failure.insn_bytes[0];
	if ((op != 0xcc && op != 0x9b && op != 0xcf) || v->acc->get_regs(v->av, &regs) < 0 ||
	    v->acc->get_sregs(v->av, &sr) < 0 || !(sr.cr0 & 1))
		return false;
	if (op == 0xcf)
		return fallback_iret32(v, &regs, &sr);
	return op == 0xcc ? deliver_bp(v, &regs, &sr) : skip_fwait(v, &regs);
}

static bool observe_exit(struct vcpu *v)
{
	return v->run->exit_reason == KVM_EXIT_INTERNAL_ERROR && fallback_emulate(v);
}

const struct vcpu_observer fallback_observer = { .name = "fallback", .exit = observe_exit };
