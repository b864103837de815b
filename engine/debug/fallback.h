/* fallback: the few instructions hvwb completes itself when KVM's emulator
 * gives up on them (hosts without VT-x emulate all ring-0 code). */
#ifndef HVWB_FALLBACK_H
#define HVWB_FALLBACK_H

#include "engine/core/vcpu_observer.h"

/* Takes an emulation-failure exit it can complete (int3, fwait). */
extern const struct vcpu_observer fallback_observer;

#endif
