/* bare_vm: the set-up both bare-KVM benchmark programs share, so they measure
 * the same platform as hvwb (in-kernel IRQ chip and PIT, one 2 MiB slot, one
 * vCPU with the host's CPUID, a 64 KiB image at 0xF0000 entered at F000:FFF0)
 * and differ only in the loop they time. Programs, not library code: a failure
 * is reported and the process exits. */
#ifndef BENCH_BARE_VM_H
#define BENCH_BARE_VM_H

#include <linux/kvm.h>
#include <stdint.h>

#define MEM_SIZE	(2u << 20)
#define IMAGE_ADDR	0xF0000u
#define IMAGE_MAX	0x10000u
#define TSS_ADDR	0xfffbd000ul	/* where hvwb puts it: below the 4 GiB BIOS area */

struct bare {
	int kvm, vm, vcpu;
	uint8_t *mem;
	struct kvm_run *run;
};

extern const char *bare_name;   /* the program's name, for messages */

void die(const char *what) __attribute__((noreturn));
void fail(const char *what) __attribute__((noreturn));
void bare_create_vm(struct bare *b);
void bare_add_memory(struct bare *b);
/* Reads a 64 KiB image to IMAGE_ADDR. */
void bare_load_image(struct bare *b, const char *path);
void bare_create_vcpu(struct bare *b);
double bare_seconds(const struct timespec *a, const struct timespec *b);

#endif
