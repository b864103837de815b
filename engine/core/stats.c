/* stats: exit counters, the busiest ports and MMIO addresses, and KVM's own
 * binary statistics. Counting is done by the vCPU thread that owns the
 * counters, with plain stores; readers copy with relaxed loads. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "util/err.h"
#include "engine/core/stats.h"

uint64_t stats_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned addr_hash(uint64_t key)
{
	key *= 0x9e3779b97f4a7c15ull;
	return (unsigned)(key >> 56);  /* 256 slots */
}

void stats_count_addr(struct addr_table *t, uint64_t addr)
{
	uint64_t key = addr + 1;
	unsigned h = addr_hash(key);
	for (unsigned probe = 0; probe < 16; probe++) {
		struct addr_slot *s = &t->slot[(h + probe) % STATS_ADDR_SLOTS];
		if (s->key == key) {
			__atomic_store_n(&s->count, s->count + 1, __ATOMIC_RELAXED);
			return;
		}
		if (s->key == 0) {
			__atomic_store_n(&s->count, 1, __ATOMIC_RELAXED);
			__atomic_store_n(&s->key, key, __ATOMIC_RELEASE);
			return;
		}
	}
	/* only this vCPU writes its table; the dashboard reads it meanwhile */
	__atomic_store_n(&t->overflow, t->overflow + 1, __ATOMIC_RELAXED);
}

static void table_copy(struct addr_table *dst, const struct addr_table *src)
{
	for (unsigned i = 0; i < STATS_ADDR_SLOTS; i++) {
		dst->slot[i].key = __atomic_load_n(&src->slot[i].key, __ATOMIC_ACQUIRE);
		dst->slot[i].count = __atomic_load_n(&src->slot[i].count, __ATOMIC_RELAXED);
	}
	dst->overflow = __atomic_load_n(&src->overflow, __ATOMIC_RELAXED);
}

void stats_copy(struct vcpu_stats *dst, const struct vcpu_stats *src)
{
	for (unsigned i = 0; i < STATS_EXIT_REASONS; i++)
		dst->exits[i] = __atomic_load_n(&src->exits[i], __ATOMIC_RELAXED);
	dst->kicks = __atomic_load_n(&src->kicks, __ATOMIC_RELAXED);
	dst->guest_ns = __atomic_load_n(&src->guest_ns, __ATOMIC_RELAXED);
	dst->handle_ns = __atomic_load_n(&src->handle_ns, __ATOMIC_RELAXED);
	dst->unclaimed = __atomic_load_n(&src->unclaimed, __ATOMIC_RELAXED);
	dst->instructions = __atomic_load_n(&src->instructions, __ATOMIC_RELAXED);
	dst->has_instructions = __atomic_load_n(&src->has_instructions, __ATOMIC_RELAXED);
	table_copy(&dst->io, &src->io);
	table_copy(&dst->mmio, &src->mmio);
}

/* Adds src's counts into dst; addresses that find no room in dst go to overflow. */
static void table_add(struct addr_table *dst, const struct addr_table *src)
{
	for (unsigned i = 0; i < STATS_ADDR_SLOTS; i++) {
		const struct addr_slot *s = &src->slot[i];
		if (!s->key)
			continue;
		unsigned h = addr_hash(s->key), probe;
		for (probe = 0; probe < STATS_ADDR_SLOTS; probe++) {
			struct addr_slot *d = &dst->slot[(h + probe) % STATS_ADDR_SLOTS];
			if (d->key == s->key || d->key == 0) {
				d->key = s->key;
				d->count += s->count;
				break;
			}
		}
		if (probe == STATS_ADDR_SLOTS)
			dst->overflow += s->count;
	}
	dst->overflow += src->overflow;
}

void stats_add(struct vcpu_stats *dst, const struct vcpu_stats *src)
{
	for (unsigned i = 0; i < STATS_EXIT_REASONS; i++)
		dst->exits[i] += src->exits[i];
	dst->kicks += src->kicks;
	dst->guest_ns += src->guest_ns;
	dst->handle_ns += src->handle_ns;
	dst->unclaimed += src->unclaimed;
	dst->instructions += src->instructions;
	dst->has_instructions |= src->has_instructions;
	table_add(&dst->io, &src->io);
	table_add(&dst->mmio, &src->mmio);
}

uint64_t stats_total_exits(const struct vcpu_stats *s)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < STATS_EXIT_REASONS; i++)
		n += s->exits[i];
	return n;
}

static int by_count_desc(const void *a, const void *b)
{
	const struct addr_count *x = a, *y = b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

size_t stats_top(const struct addr_table *t, struct addr_count *out, size_t max)
{
	struct addr_count all[STATS_ADDR_SLOTS];
	size_t n = 0;
	for (unsigned i = 0; i < STATS_ADDR_SLOTS; i++)
		if (t->slot[i].key)
			all[n++] = (struct addr_count){ t->slot[i].key - 1, t->slot[i].count };
	qsort(all, n, sizeof(all[0]), by_count_desc);
	if (n > max)
		n = max;
	memcpy(out, all, n * sizeof(all[0]));
	return n;
}

const char *stats_exit_name(unsigned reason)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "unknown", [KVM_EXIT_EXCEPTION] = "exception",
		[KVM_EXIT_IO] = "io", [KVM_EXIT_HYPERCALL] = "hypercall",
		[KVM_EXIT_DEBUG] = "debug", [KVM_EXIT_HLT] = "hlt", [KVM_EXIT_MMIO] = "mmio",
		[KVM_EXIT_IRQ_WINDOW_OPEN] = "irq_window_open", [KVM_EXIT_SHUTDOWN] = "shutdown",
		[KVM_EXIT_FAIL_ENTRY] = "fail_entry", [KVM_EXIT_INTR] = "intr",
		[KVM_EXIT_SET_TPR] = "set_tpr", [KVM_EXIT_TPR_ACCESS] = "tpr_access",
		[KVM_EXIT_NMI] = "nmi", [KVM_EXIT_INTERNAL_ERROR] = "internal_error",
		[KVM_EXIT_OSI] = "osi", [KVM_EXIT_PAPR_HCALL] = "papr_hcall",
		[KVM_EXIT_WATCHDOG] = "watchdog", [KVM_EXIT_EPR] = "epr",
		[KVM_EXIT_SYSTEM_EVENT] = "system_event", [KVM_EXIT_IOAPIC_EOI] = "ioapic_eoi",
		[KVM_EXIT_HYPERV] = "hyperv", [KVM_EXIT_X86_RDMSR] = "rdmsr",
		[KVM_EXIT_X86_WRMSR] = "wrmsr", [KVM_EXIT_DIRTY_RING_FULL] = "dirty_ring_full",
		[KVM_EXIT_AP_RESET_HOLD] = "ap_reset_hold", [KVM_EXIT_X86_BUS_LOCK] = "bus_lock",
		[KVM_EXIT_XEN] = "xen", [KVM_EXIT_NOTIFY] = "notify",
	};
	if (reason < sizeof(names) / sizeof(names[0]) && names[reason])
		return names[reason];
	return "other";
}

/* Reads exactly len bytes at off, or fails. */
static int read_at(int fd, void *buf, size_t len, off_t off)
{
	ssize_t n = pread(fd, buf, len, off);
	if (n != (ssize_t)len)
		return err_set(n < 0 ? -errno : -EIO, "reading KVM binary statistics failed");
	return 0;
}

int stats_kvm_read(int fd, void (*fn)(void *arg, const char *name, uint64_t value), void *arg)
{
	if (fd < 0)
		return err_set(-ENOTSUP, "this host's KVM has no binary statistics (KVM_GET_STATS_FD)");
	struct kvm_stats_header h;
	int r = read_at(fd, &h, sizeof(h), 0);
	if (r < 0)
		return r;
	size_t desc_size = sizeof(struct kvm_stats_desc) + h.name_size;
	uint8_t *descs = malloc(desc_size * h.num_desc);
	if (!descs)
		return err_set(-ENOMEM, "out of memory");
	r = read_at(fd, descs, desc_size * h.num_desc, h.desc_offset);
	for (uint32_t i = 0; r == 0 && i < h.num_desc; i++) {
		struct kvm_stats_desc *d = (struct kvm_stats_desc *)(descs + i * desc_size);
		uint64_t vals[64], sum = 0;
		uint32_t n = d->size < 64 ? d->size : 64;
		r = read_at(fd, vals, n * sizeof(uint64_t), h.data_offset + d->offset);
		for (uint32_t k = 0; r == 0 && k < n; k++)
			sum += vals[k];
		if (r == 0)
			fn(arg, d->name, sum);
	}
	free(descs);
	return r;
}
