/* bus: the per-VM registry of port-I/O and MMIO ranges. Every I/O and MMIO exit
 * of every vCPU lands in bus_access(), so lookups are a binary search over a
 * small sorted array under the read side of a rwlock; registration (rare, from
 * the main thread) takes the write side. Handlers run WITHOUT the lock: a
 * handler may take long (a script device waits for the main thread) and the
 * main thread may register a device meanwhile, or from inside that handler.
 * Instead each range's handler lives in a slot that counts the calls in
 * flight; bus_unregister unlinks the range, then waits for that count to drop
 * to zero, so no vCPU is still inside the device once it returns. The device list is only touched by the thread that
 * builds and tears down the VM, never by vCPUs, so it needs no lock. */
#include "bus.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

/* A range's handler; stays where it is while the range array moves. */
struct bus_slot {
	bus_io_fn fn;
	void *opaque;
	/* Calls running now, and SLOT_RETIRED once unregistered: one atomic
	 * word, so the last call out learns it must wake the waiter from the
	 * same operation that ends its use of the slot (which may be freed the
	 * moment the count is zero). */
	unsigned state;
};
#define SLOT_RETIRED 0x80000000u

struct bus_range {
	uint64_t base;
	uint64_t last;          /* inclusive, so a range may end at 2^64 */
	struct bus_slot *slot;
	const char *owner;      /* interned: valid until bus_destroy */
};

struct bus_map {
	struct bus_range *r;    /* sorted by base, never overlapping */
	size_t n, cap;
};

/* Owner names are kept for the bus's lifetime so bus_owner() can hand out a
 * pointer that stays valid even if the range is unregistered meanwhile. */
struct bus_name {
	struct bus_name *next;
	char name[];
};

struct bus {
	pthread_rwlock_t lock;
	pthread_mutex_t calls_lock;   /* with calls_done: waiting for calls in flight */
	pthread_cond_t calls_done;
	struct bus_map map[2];  /* indexed by enum bus_space */
	struct bus_name *names;
	struct device *devs, **devs_tail;
};

static const char *const space_name[] = { [BUS_PIO] = "port", [BUS_MMIO] = "MMIO" };

struct bus *bus_create(void)
{
	struct bus *bus = calloc(1, sizeof(*bus));
	pthread_rwlockattr_t attr;

	if (!bus) {
		err_set(-ENOMEM, "bus: out of memory");
		return NULL;
	}
	/* vCPUs hammer the read side; without writer preference a registration
	 * could wait for as long as the guest keeps doing I/O. */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	if (pthread_rwlock_init(&bus->lock, &attr)) {
		pthread_rwlockattr_destroy(&attr);
		free(bus);
		err_set(-ENOMEM, "bus: cannot create its lock");
		return NULL;
	}
	pthread_rwlockattr_destroy(&attr);
	pthread_mutex_init(&bus->calls_lock, NULL);
	pthread_cond_init(&bus->calls_done, NULL);
	bus->devs_tail = &bus->devs;
	return bus;
}

void bus_destroy(struct bus *bus)
{
	if (!bus)
		return;
	for (struct device *d = bus->devs, *next; d; d = next) {
		next = d->next;
		if (d->destroy)
			d->destroy(d);
	}
	for (struct bus_name *n = bus->names, *next; n; n = next) {
		next = n->next;
		free(n);
	}
	for (int sp = 0; sp < 2; sp++) {
		for (size_t i = 0; i < bus->map[sp].n; i++)
			free(bus->map[sp].r[i].slot);
		free(bus->map[sp].r);
	}
	pthread_cond_destroy(&bus->calls_done);
	pthread_mutex_destroy(&bus->calls_lock);
	pthread_rwlock_destroy(&bus->lock);
	free(bus);
}

static bool space_ok(enum bus_space space)
{
	return space == BUS_PIO || space == BUS_MMIO;
}

/* Index of the first range whose base is > addr; the candidate that may
 * cover addr is the one just before it. */
static size_t upper_bound(const struct bus_map *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->r[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct bus_range *find(const struct bus_map *m, uint64_t addr)
{
	size_t i = upper_bound(m, addr);

	if (i == 0 || m->r[i - 1].last < addr)
		return NULL;
	return &m->r[i - 1];
}

/* Called with the write lock held. */
static const char *intern(struct bus *bus, const char *owner)
{
	size_t len;
	struct bus_name *n;

	if (!owner)
		owner = "?";
	for (n = bus->names; n; n = n->next)
		if (strcmp(n->name, owner) == 0)
			return n->name;
	len = strlen(owner) + 1;
	n = malloc(sizeof(*n) + len);
	if (!n)
		return NULL;
	memcpy(n->name, owner, len);
	n->next = bus->names;
	bus->names = n;
	return n->name;
}

static int check_range(enum bus_space space, uint64_t base, uint64_t len)
{
	if (!space_ok(space))
		return err_set(-EINVAL, "bus: unknown address space %d", (int)space);
	if (len == 0)
		return err_set(-EINVAL, "bus: empty %s range at 0x%llx", space_name[space],
				(unsigned long long)base);
	if (len - 1 > UINT64_MAX - base)
		return err_set(-EINVAL, "bus: %s range 0x%llx+0x%llx wraps around",
				space_name[space], (unsigned long long)base,
				(unsigned long long)len);
	/* Port numbers are 16 bits: a range past 0xffff would wrap on the CPU. */
	if (space == BUS_PIO && (base > 0xffff || len > 0x10000 - base))
		return err_set(-EINVAL, "bus: port range 0x%llx+0x%llx goes past 0xffff",
				(unsigned long long)base, (unsigned long long)len);
	return 0;
}

static int overlap_error(enum bus_space space, const struct bus_range *old,
			 uint64_t base, uint64_t last, const char *owner)
{
	return err_set(-EEXIST, "bus: %s range 0x%llx-0x%llx for '%s' overlaps 0x%llx-0x%llx "
		       "owned by '%s'", space_name[space], (unsigned long long)base,
		       (unsigned long long)last, owner ? owner : "?",
		       (unsigned long long)old->base, (unsigned long long)old->last, old->owner);
}

/* Where a new range [base, last] goes in the sorted array, or -EEXIST.
 * Called with the lock held. */
static int slot(const struct bus_map *m, enum bus_space space, uint64_t base, uint64_t last,
		const char *owner, size_t *at)
{
	size_t i = upper_bound(m, base);

	if (i > 0 && m->r[i - 1].last >= base)
		return overlap_error(space, &m->r[i - 1], base, last, owner);
	if (i < m->n && m->r[i].base <= last)
		return overlap_error(space, &m->r[i], base, last, owner);
	*at = i;
	return 0;
}

static int grow(struct bus_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 8;
	struct bus_range *r;

	if (m->n < m->cap)
		return 0;
	r = realloc(m->r, cap * sizeof(*r));
	if (!r)
		return err_set(-ENOMEM, "bus: out of memory");
	m->r = r;
	m->cap = cap;
	return 0;
}

int bus_register(struct bus *bus, enum bus_space space, uint64_t base, uint64_t len,
		 bus_io_fn fn, void *opaque, const char *owner)
{
	struct bus_range nr = { .base = base };
	struct bus_map *m;
	size_t i = 0;
	int rc;

	if (!bus || !fn)
		return err_set(-EINVAL, "bus_register: no bus or no handler");
	rc = check_range(space, base, len);
	if (rc)
		return rc;
	nr.last = base + (len - 1);
	m = &bus->map[space];
	pthread_rwlock_wrlock(&bus->lock);
	rc = slot(m, space, nr.base, nr.last, owner, &i);
	if (rc == 0)
		rc = grow(m);
	if (rc == 0) {
		nr.owner = intern(bus, owner);
		nr.slot = calloc(1, sizeof(*nr.slot));
		if (!nr.owner || !nr.slot) {
			free(nr.slot);
			rc = err_set(-ENOMEM, "bus: out of memory");
		} else {
			nr.slot->fn = fn;
			nr.slot->opaque = opaque;
		}
	}
	if (rc == 0) {
		memmove(&m->r[i + 1], &m->r[i], (m->n - i) * sizeof(*m->r));
		m->r[i] = nr;
		m->n++;
	}
	pthread_rwlock_unlock(&bus->lock);
	return rc;
}

int bus_unregister(struct bus *bus, enum bus_space space, uint64_t base)
{
	struct bus_map *m;
	struct bus_slot *slot = NULL;
	size_t i;
	int rc = 0;

	if (!bus || !space_ok(space))
		return err_set(-EINVAL, "bus_unregister: no bus or unknown address space");
	pthread_rwlock_wrlock(&bus->lock);
	m = &bus->map[space];
	i = upper_bound(m, base);
	if (i == 0 || m->r[i - 1].base != base) {
		rc = err_set(-ENOENT, "bus: no %s range starts at 0x%llx", space_name[space],
			     (unsigned long long)base);
	} else {
		slot = m->r[i - 1].slot;
		memmove(&m->r[i - 1], &m->r[i], (m->n - i) * sizeof(*m->r));
		m->n--;
	}
	pthread_rwlock_unlock(&bus->lock);
	if (slot) {
		/* No new call can find the range now; wait for those in flight. */
		pthread_mutex_lock(&bus->calls_lock);
		__atomic_or_fetch(&slot->state, SLOT_RETIRED, __ATOMIC_SEQ_CST);
		while (__atomic_load_n(&slot->state, __ATOMIC_SEQ_CST) & ~SLOT_RETIRED)
			pthread_cond_wait(&bus->calls_done, &bus->calls_lock);
		pthread_mutex_unlock(&bus->calls_lock);
		free(slot);
	}
	return rc;
}

bool bus_access(struct bus *bus, enum bus_space space, uint64_t addr, void *data,
		unsigned len, bool is_write)
{
	const struct bus_range *r;
	struct bus_slot *slot = NULL;

	if (space_ok(space)) {
		pthread_rwlock_rdlock(&bus->lock);
		r = find(&bus->map[space], addr);
		if (r) {
			slot = r->slot;
			__atomic_add_fetch(&slot->state, 1, __ATOMIC_SEQ_CST);
		}
		pthread_rwlock_unlock(&bus->lock);
	}
	if (slot) {
		/* Outside the lock: the handler may register devices, or wait for
		 * the main thread while it does. */
		slot->fn(slot->opaque, addr, data, len, is_write);
		/* the slot is not touched after this: unregister may free it */
		if (__atomic_sub_fetch(&slot->state, 1, __ATOMIC_SEQ_CST) == SLOT_RETIRED) {
			pthread_mutex_lock(&bus->calls_lock);
			pthread_cond_broadcast(&bus->calls_done);
			pthread_mutex_unlock(&bus->calls_lock);
		}
		return true;
	}
	if (!is_write)
		memset(data, 0xff, len);
	return false;
}

void bus_add_device(struct bus *bus, struct device *dev)
{
	dev->next = NULL;
	*bus->devs_tail = dev;
	bus->devs_tail = &dev->next;
}

void bus_for_each_device(struct bus *bus, void (*fn)(struct device *dev, void *arg), void *arg)
{
	for (struct device *d = bus->devs, *next; d; d = next) {
		next = d->next;
		fn(d, arg);
	}
}

const char *bus_owner(struct bus *bus, enum bus_space space, uint64_t addr)
{
	const struct bus_range *r;
	const char *name = NULL;

	if (!bus || !space_ok(space))
		return NULL;
	pthread_rwlock_rdlock(&bus->lock);
	r = find(&bus->map[space], addr);
	if (r)
		name = r->owner;
	pthread_rwlock_unlock(&bus->lock);
	return name;
}
