/* test_soft_box: a tiny VMM around accel_soft for the soft CPU's tests: guest
 * RAM in one slot, a program loaded by the engine's own loader and boot
 * set-up, and a run loop that plays the hvwb machine's devices (the UART at
 * 0x3f8 with LSR at 0x3fd, the debug exit at 0xf4) and records every other
 * port and MMIO exit. */
#ifndef TEST_SOFT_BOX_H
#define TEST_SOFT_BOX_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/accel/accel.h"
#include "engine/accel/soft/soft.h"
#include "engine/boot/boot.h"
#include "engine/boot/loader.h"

struct box {
	struct accel_vm *vm;
	struct accel_vcpu *cpu;
	struct kvm_run *run;
	struct guest_ram ram;
	char out[8192];
	int nout;
	const char *input;       /* bytes the UART receives */
	int exit_code;           /* value written to 0xf4, -1 none */
	char log[4096];          /* other exits: "o500:11 i501 w fe000000:deadbeef ..." */
	int nlog;
	uint32_t in_value;       /* what other port reads return */
	uint8_t scratch[4];      /* ports 0xe0-0xe3: a scratch register (pc-testdev) */
};

static inline int box_new(struct box *b, uint64_t ram_size)
{
	memset(b, 0, sizeof(*b));
	b->exit_code = -1;
	b->ram.size = ram_size;
	b->ram.host = aligned_alloc(4096, ram_size);
	if (!b->ram.host)
		return -ENOMEM;
	memset(b->ram.host, 0, ram_size);
	int r = accel_soft.vm_create(&b->vm);
	if (r)
		return r;
	r = accel_soft.set_memory(b->vm, 0, 0, 0, ram_size, b->ram.host);
	if (r)
		return r;
	return accel_soft.vcpu_create(b->vm, 0, &b->cpu, &b->run);
}

static inline void box_free(struct box *b)
{
	accel_soft.vcpu_destroy(b->cpu);
	accel_soft.vm_destroy(b->vm);
	free(b->ram.host);
}

/* Loads a sample with the engine's loader and boot set-up. */
static inline int box_load(struct box *b, const char *path)
{
	struct load_opts o;
	struct boot_plan plan;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	load_opts_init(&o);
	int r = loader_load(&b->ram, path, &o, &plan, NULL);
	if (r)
		return r;
	accel_soft.get_regs(b->cpu, &regs);
	accel_soft.get_sregs(b->cpu, &sregs);
	r = boot_prepare(&b->ram, &plan, &regs, &sregs);
	if (r)
		return r;
	accel_soft.set_sregs(b->cpu, &sregs);
	return accel_soft.set_regs(b->cpu, &regs);
}

static inline void box_logf(struct box *b, const char *fmt, unsigned long long a,
			    unsigned long long v)
{
	if (b->nlog < (int)sizeof(b->log) - 64)
		b->nlog += snprintf(b->log + b->nlog, sizeof(b->log) - b->nlog, fmt, a, v);
}

static inline void box_io(struct box *b)
{
	struct kvm_run *run = b->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	uint32_t v = 0;
	memcpy(&v, data, run->io.size);
	if (run->io.direction == KVM_EXIT_IO_OUT) {
		if (run->io.port == 0x3f8 && b->nout < (int)sizeof(b->out) - 1)
			b->out[b->nout++] = (char)v;
		else if (run->io.port == 0xf4)
			b->exit_code = v & 0xff;
		else if (run->io.port >= 0xe0 && run->io.port < 0xe4)
			memcpy(b->scratch + (run->io.port - 0xe0), &v, run->io.size);
		else if (run->io.port != 0x3f9 && run->io.port != 0x3fa && run->io.port != 0x3fb &&
			 run->io.port != 0x3fc)
			box_logf(b, "o%llx:%llx ", run->io.port, v);
		return;
	}
	if (run->io.port == 0x3fd)
		v = 0x20 | (b->input && *b->input ? 1 : 0);
	else if (run->io.port == 0x3f8)
		v = b->input && *b->input ? (uint8_t)*b->input++ : 0;
	else if (run->io.port >= 0xe0 && run->io.port < 0xe4)
		memcpy(&v, b->scratch + (run->io.port - 0xe0), run->io.size);
	else {
		box_logf(b, "i%llx%.0llx ", run->io.port, 0);
		v = b->in_value;
	}
	memcpy(data, &v, run->io.size);
}

static inline void box_mmio(struct box *b)
{
	struct kvm_run *run = b->run;
	uint64_t v = 0;
	memcpy(&v, run->mmio.data, run->mmio.len);
	if (run->mmio.is_write) {
		box_logf(b, "w%llx:%llx ", run->mmio.phys_addr, v);
	} else {
		box_logf(b, "r%llx%.0llx ", run->mmio.phys_addr, 0);
		v = b->in_value;
		memcpy(run->mmio.data, &v, run->mmio.len);
	}
}

/* Runs until the debug exit, a non-I/O exit or `max` exits. Returns the last
 * exit reason (KVM_EXIT_IO after the debug exit), or a negative errno. */
static inline int box_run(struct box *b, int max)
{
	for (int n = 0; n < max; n++) {
		int r = accel_soft.vcpu_run(b->cpu);
		if (r < 0)
			return r;
		switch (b->run->exit_reason) {
		case KVM_EXIT_IO:
			box_io(b);
			if (b->exit_code >= 0)
				return KVM_EXIT_IO;
			break;
		case KVM_EXIT_MMIO:
			box_mmio(b);
			break;
		default:
			return b->run->exit_reason;
		}
	}
	return -ETIMEDOUT;
}

#endif
