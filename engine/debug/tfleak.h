/* tfleak: clears the single-step TF that an interrupt delivered during a step
 * pushed into the handler's frame (see tfleak.c). */
#ifndef HVWB_TFLEAK_H
#define HVWB_TFLEAK_H

struct vm;

/* vCPU thread, after a step with interrupts allowed; ip_before is the RIP
 * (not linear) the step started from. */
struct vcpu;
void tfleak_scrub(struct vcpu *v, uint64_t ip_before);

#endif
