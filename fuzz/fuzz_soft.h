/* fuzz_soft.h: what the soft-CPU fuzz targets share: a fresh soft VM with
 * RAM in one slot, and a bounded run. Each input's run ends at FUZZ_EXITS
 * exits or FUZZ_BUDGET_NS of host time: a watchdog thread kicks the vCPU of
 * an input that has had its time, so `jmp $`, a huge `rep` or a `hlt` no
 * interrupt will end is no fuzzer timeout. */
#ifndef FUZZ_SOFT_H
#define FUZZ_SOFT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/accel/accel.h"

#define FUZZ_EXITS     64
#define FUZZ_BUDGET_NS 5000000ull

struct fuzz_box {
	struct accel_vm *vm;
	struct accel_vcpu *cpu;
	struct kvm_run *run;
};

static uint8_t *fuzz_ram;
static uint64_t fuzz_ram_size;
/* The vCPU of the input being run and when it started; the lock keeps the
 * watchdog from kicking a vCPU that is being destroyed. */
static pthread_mutex_t fuzz_lock = PTHREAD_MUTEX_INITIALIZER;
static struct accel_vcpu *fuzz_running;
static uint64_t fuzz_started_ns;

static inline uint64_t fuzz_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void *fuzz_watchdog(void *arg)
{
	(void)arg;
	for (;;) {
		usleep(500);
		pthread_mutex_lock(&fuzz_lock);
		if (fuzz_running && fuzz_now_ns() - fuzz_started_ns > FUZZ_BUDGET_NS)
			accel_soft.vcpu_kick(fuzz_running);
		pthread_mutex_unlock(&fuzz_lock);
	}
	return NULL;
}

/* Once per process: guest RAM and the watchdog. */
static inline void fuzz_soft_init(uint64_t ram_size)
{
	fuzz_ram_size = ram_size;
	fuzz_ram = aligned_alloc(4096, ram_size);
	pthread_t t;
	if (!fuzz_ram || pthread_create(&t, NULL, fuzz_watchdog, NULL) != 0)
		abort();
	pthread_detach(t);
}

/* A fresh VM over the (caller-filled) RAM, with one vCPU. */
static inline void fuzz_box_new(struct fuzz_box *b)
{
	if (accel_soft.vm_create(&b->vm) < 0 ||
	    accel_soft.set_memory(b->vm, 0, 0, 0, fuzz_ram_size, fuzz_ram) < 0 ||
	    accel_soft.vcpu_create(b->vm, 0, &b->cpu, &b->run) < 0)
		abort();
}

static inline void fuzz_box_free(struct fuzz_box *b)
{
	accel_soft.vcpu_destroy(b->cpu);
	accel_soft.vm_destroy(b->vm);
}

/* Answers an exit as hvwb's run loop would, reads with bytes of `data`;
 * false ends the input (shutdown, emulation failure, anything final). */
static inline bool fuzz_answer(struct kvm_run *run, const uint8_t *data, size_t n, size_t *k)
{
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		if (run->io.direction == KVM_EXIT_IO_IN)
			for (uint32_t i = 0; i < (uint32_t)run->io.size * run->io.count && i < 4096; i++)
				((uint8_t *)run + run->io.data_offset)[i] = n ? data[(*k)++ % n] : 0xff;
		return true;
	case KVM_EXIT_MMIO:
		if (!run->mmio.is_write)
			for (uint32_t i = 0; i < run->mmio.len && i < 8; i++)
				run->mmio.data[i] = n ? data[(*k)++ % n] : 0xff;
		return true;
	case KVM_EXIT_DEBUG:
		return true;
	default:
		return false;
	}
}

/* Runs the vCPU within the bounds above. */
static inline void fuzz_run(struct fuzz_box *b, const uint8_t *data, size_t n)
{
	uint64_t t0 = fuzz_now_ns();
	pthread_mutex_lock(&fuzz_lock);
	fuzz_started_ns = t0;
	fuzz_running = b->cpu;
	pthread_mutex_unlock(&fuzz_lock);
	size_t k = 0;
	for (int e = 0; e < FUZZ_EXITS && fuzz_now_ns() - t0 <= FUZZ_BUDGET_NS; e++)
		if (accel_soft.vcpu_run(b->cpu) < 0 || !fuzz_answer(b->run, data, n, &k))
			break;
	pthread_mutex_lock(&fuzz_lock);
	fuzz_running = NULL;
	pthread_mutex_unlock(&fuzz_lock);
}

#endif
