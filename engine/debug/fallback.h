/* fallback: the few instructions hvwb completes itself when KVM's emulator
 * gives up on them (hosts without VT-x emulate all ring-0 code). */
#ifndef HVWB_FALLBACK_H
#define HVWB_FALLBACK_H

#include <linux/kvm.h>
#include <stdbool.h>

#include "engine/core/vcpu_observer.h"

/* Takes an emulation-failure exit it can complete (int3, fwait, a 32-bit iret). */
extern const struct vcpu_observer fallback_observer;

struct vcpu;
/* fallback_iret.c: a ring-0 32-bit protected-mode iret, as the CPU does it;
 * false (nothing changed) where it does not apply. */
bool fallback_iret32(struct vcpu *v, struct kvm_regs *regs, struct kvm_sregs *sr);

#endif
