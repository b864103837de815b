/* fallback: the few instructions hvwb completes itself when KVM's emulator
 * gives up on them (hosts without VT-x emulate all ring-0 code). */
#ifndef HVWB_FALLBACK_H
#define HVWB_FALLBACK_H

#include <linux/kvm.h>
#include <stdbool.h>

/* After an emulation failure of vCPU `fd`: true if the instruction at RIP was
 * one of ours and the vCPU can run on, false to report the failure. */
struct vcpu;
bool fallback_emulate(struct vcpu *v);

#endif
