/* stats: the counters a VM keeps about itself. Each vCPU thread owns its
 * counters and only it writes them; readers (Lua, the dashboard) copy them
 * without stopping the guest, so a copy may be a few exits behind. */
#ifndef HVWB_STATS_H
#define HVWB_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STATS_EXIT_REASONS 64     /* KVM_EXIT_* values fit below this */
#define STATS_ADDR_SLOTS   256    /* distinct ports / MMIO addresses counted per vCPU */

struct addr_slot {
	uint64_t key;     /* address + 1, 0 = empty */
	uint64_t count;
};

/* Counts by address, for the ports and MMIO addresses a guest uses most. */
struct addr_table {
	struct addr_slot slot[STATS_ADDR_SLOTS];
	uint64_t overflow;  /* accesses to addresses that found no free slot */
};

struct vcpu_stats {
	uint64_t exits[STATS_EXIT_REASONS]; /* by KVM exit reason */
	uint64_t kicks;       /* KVM_RUN interrupted by a signal (pause, idle check) */
	uint64_t guest_ns;    /* wall time inside KVM_RUN */
	uint64_t handle_ns;   /* wall time handling exits in user space */
	uint64_t unclaimed;   /* I/O or MMIO accesses no device claimed */
	uint64_t instructions; /* retired, where the accelerator counts them (soft) */
	bool has_instructions;
	struct addr_table io, mmio;
};

/* Called by the owning vCPU thread only. */
void stats_count_addr(struct addr_table *t, uint64_t addr);

/* Reader side: a consistent-enough copy of one vCPU's counters. */
void stats_copy(struct vcpu_stats *dst, const struct vcpu_stats *src);
/* dst += src, merging address tables. */
void stats_add(struct vcpu_stats *dst, const struct vcpu_stats *src);
uint64_t stats_total_exits(const struct vcpu_stats *s);

/* The busiest addresses of a table, most used first. Returns how many. */
struct addr_count { uint64_t addr, count; };
size_t stats_top(const struct addr_table *t, struct addr_count *out, size_t max);

/* Short lower-case name of a KVM exit reason ("io", "mmio", "hlt", ...). */
const char *stats_exit_name(unsigned reason);

/* KVM's binary statistics (KVM_GET_STATS_FD) of a VM or vCPU fd: calls fn for
 * each counter with its name and value (arrays report their first element
 * summed). Returns 0 or -errno with err_msg. */
int stats_kvm_read(int stats_fd, void (*fn)(void *arg, const char *name, uint64_t value),
		   void *arg);

/* Nanoseconds of CLOCK_MONOTONIC. */
uint64_t stats_now_ns(void);

#endif
