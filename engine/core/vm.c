/* vm: creating and destroying VMs, their guest RAM and their standard devices,
 * and the accessors the rest of the program inspects them through. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/debugexit.h"
#include "devices/uart16550.h"
#include "engine/debug/debug.h"
#include "util/err.h"
#include "engine/debug/probe.h"
#include "engine/state/snapshot.h"
#include "engine/core/vm_internal.h"

/* Guest RAM above this goes above 4 GiB, leaving the hole for MMIO (where the
 * IOAPIC and LAPIC live) as on a PC. */
#define PCI_HOLE_START 0xc0000000ull
#define FOUR_GIB 0x100000000ull
#define COM1_PORT 0x3f8
#define COM1_IRQ 4
#define MAX_VCPUS 64

static struct vm *vm_head;
static unsigned vm_serial_no;

static int accel_max_vcpus(const struct accel_ops *a)
{
	int n = a->check_cap(KVM_CAP_MAX_VCPUS);
	if (n <= 0)
		n = a->check_cap(KVM_CAP_NR_VCPUS);
	if (n <= 0)
		n = 1;
	return n < MAX_VCPUS ? n : MAX_VCPUS;
}

int vm_max_vcpus(const char *accel)
{
	const struct accel_ops *a;
	int r = accel_pick(accel, &a);
	return r < 0 ? r : accel_max_vcpus(a);
}

const char *vm_accel(const struct vm *vm)
{
	return vm->accel->name;
}

int vm_accels(struct vm_accel_info *out, int n)
{
	int count = 0;
	for (; accel_all[count]; count++) {
		if (count >= n)
			continue;
		const struct accel_ops *a = accel_all[count];
		struct vm_accel_info *i = &out[count];
		memset(i, 0, sizeof(*i));
		i->name = a->name;
		i->usable = accel_usable(a) == 0;
		if (!i->usable)
			snprintf(i->why, sizeof(i->why), "%s", err_msg());
		i->max_vcpus = i->usable ? accel_max_vcpus(a) : 0;
		i->debug = probe_accel(a);
	}
	return count;
}


int vm_parse_size(const char *text, uint64_t *out)
{
	char *end;
	if (!text || !isdigit((unsigned char)*text))
		return err_set(-EINVAL, "size '%s' is not a number like 64M, 2G or 1048576", text ? text : "");
	errno = 0;
	unsigned long long n = strtoull(text, &end, 10);
	unsigned shift = 0;
	switch (toupper((unsigned char)*end)) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	}
	if (shift && (*end == 'i' || *end == 'I'))
		end++;
	if (shift && (*end == 'B' || *end == 'b'))
		end++;
	if (*end || errno || n > (1ull << 46) >> shift)
		return err_set(-EINVAL, "size '%s' is not a number like 64M, 2G or 1048576", text);
	uint64_t bytes = (uint64_t)n << shift;
	if (bytes < (1u << 20))
		return err_set(-EINVAL, "size '%s' is too small: a VM needs at least 1M", text);
	if (bytes & 0xfff)
		return err_set(-EINVAL, "size '%s' is not a multiple of 4K", text);
	*out = bytes;
	return 0;
}

static int set_memory(struct vm *vm, uint32_t slot, uint64_t gpa, uint64_t size, uint64_t offset)
{
	int r = vm->accel->set_memory(vm->avm, slot, 0, gpa, size, vm->mem + offset);
	return r < 0 ? err_set(r, "adding guest RAM at 0x%llx: %s", (unsigned long long)gpa, strerror(-r)) : 0;
}

struct membase *membase_new(uint64_t size, const char *name)
{
	struct membase *b = calloc(1, sizeof(*b));
	if (!b) {
		err_set(-ENOMEM, "out of memory");
		return NULL;
	}
	b->fd = memfd_create(name, MFD_CLOEXEC);
	if (b->fd < 0) {
		err_set(-errno, "memfd_create: %s", strerror(errno));
		free(b);
		return NULL;
	}
	if (ftruncate(b->fd, (off_t)size) < 0) {
		err_set(-errno, "cannot size guest RAM to %llu bytes: %s",
			(unsigned long long)size, strerror(errno));
		close(b->fd);
		free(b);
		return NULL;
	}
	b->size = size;
	b->refs = 1;
	return b;
}

struct membase *membase_get(struct membase *b)
{
	b->refs++;
	return b;
}

void membase_put(struct membase *b)
{
	if (b && --b->refs == 0) {
		close(b->fd);
		free(b);
	}
}

static int register_slots(struct vm *vm)
{
	int r = set_memory(vm, 0, 0, vm->low_size, 0);
	if (r == 0 && vm->mem_size > vm->low_size)
		r = set_memory(vm, 1, FOUR_GIB, vm->mem_size - vm->low_size, vm->low_size);
	return r;
}

/* The memfd makes RAM shareable (snapshots, clones); MAP_NORESERVE and the
 * kernel's lazy allocation mean a 2G VM costs only the pages it touches. */
static int create_memory(struct vm *vm, uint64_t size)
{
	char name[80];
	snprintf(name, sizeof(name), "hvwb:%s", vm->name);
	vm->base = membase_new(size, name);
	if (!vm->base)
		return -ENOMEM;
	vm->mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, vm->base->fd, 0);
	if (vm->mem == MAP_FAILED) {
		vm->mem = NULL;
		return err_set(-errno, "cannot map %llu bytes of guest RAM: %s",
			       (unsigned long long)size, strerror(errno));
	}
	madvise(vm->mem, size, MADV_DONTDUMP);
	vm->mem_size = size;
	vm->low_size = size < PCI_HOLE_START ? size : PCI_HOLE_START;
	return register_slots(vm);
}

/* The new mapping is made elsewhere first and moved over the old one with
 * mremap, which replaces it in one step: a failure leaves RAM as it was. The
 * memory slots stay: they name host addresses, which do not change, and the
 * unmapping of the old pages reaches KVM through its MMU notifier, which drops
 * every guest mapping of them. (Deleting and re-adding the slots would do the
 * same at about 3 ms a slot here, most of a clone's cost.) */
int vm_mem_remap(struct vm *vm, struct membase *base, bool shared)
{
	if (base->size != vm->mem_size)
		return err_set(-EINVAL, "a RAM image of %llu bytes does not fit VM %s's %llu bytes",
			       (unsigned long long)base->size, vm->name, (unsigned long long)vm->mem_size);
	int flags = (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_NORESERVE;
	void *p = mmap(NULL, vm->mem_size, PROT_READ | PROT_WRITE, flags, base->fd, 0);
	if (p == MAP_FAILED)
		return err_set(-errno, "cannot map guest RAM: %s", strerror(errno));
	if (mremap(p, vm->mem_size, vm->mem_size, MREMAP_MAYMOVE | MREMAP_FIXED, vm->mem) == MAP_FAILED) {
		int e = errno;
		munmap(p, vm->mem_size);
		return err_set(-e, "cannot move guest RAM into place: %s", strerror(e));
	}
	madvise(vm->mem, vm->mem_size, MADV_DONTDUMP);
	membase_get(base);
	membase_put(vm->base);
	vm->base = base;
	vm->mem_private = !shared;
	return 0;
}

static void host_set_irq(void *opaque, unsigned gsi, int level)
{
	struct vm *vm = opaque;
	vm->accel->irq_line(vm->avm, gsi, level);
}

static void host_request_exit(void *opaque, int64_t code)
{
	struct vm *vm = opaque;
	struct vm_stop s;
	memset(&s, 0, sizeof(s));
	s.kind = STOP_EXIT;
	s.vcpu = -1;
	s.exit_code = code;
	snprintf(s.reason, sizeof(s.reason), "the guest wrote %lld to the debug-exit port",
		 (long long)code);
	pthread_mutex_lock(&engine_lock);
	vm_request_stop(vm, &s);
	pthread_mutex_unlock(&engine_lock);
}

static void host_request_crash(void *opaque, const char *reason)
{
	struct vm *vm = opaque;
	struct vm_stop s;
	memset(&s, 0, sizeof(s));
	s.kind = STOP_CRASH;
	s.vcpu = -1;
	snprintf(s.reason, sizeof(s.reason), "%s", reason);
	pthread_mutex_lock(&engine_lock);
	vm_request_stop(vm, &s);
	pthread_mutex_unlock(&engine_lock);
}

static int create_platform(struct vm *vm)
{
	vm->host = (struct device_host){ vm, host_set_irq, host_request_exit, host_request_crash };
	vm->bus = bus_create();
	if (!vm->bus)
		return err_set(-ENOMEM, "out of memory");
	int r = uart_create(vm->bus, &vm->host, COM1_PORT, COM1_IRQ, &vm->uart);
	if (r == 0)
		r = debugexit_create(vm->bus, &vm->host, DEBUGEXIT_PORT);
	return r;
}

static int check_config(const struct vm_config *cfg, const struct accel_ops *accel)
{
	if (cfg->name && (!*cfg->name || strlen(cfg->name) >= sizeof(((struct vm *)0)->name)))
		return err_set(-EINVAL, "a VM name must have 1 to %zu characters",
			       sizeof(((struct vm *)0)->name) - 1);
	if (cfg->name && vm_find(cfg->name))
		return err_set(-EEXIST, "a VM named '%s' already exists", cfg->name);
	int max = accel_max_vcpus(accel);
	if (cfg->vcpus < 1 || cfg->vcpus > max)
		return err_set(-EINVAL, "vcpus must be from 1 to %d on this host, not %d", max, cfg->vcpus);
	if (cfg->mem_size < (1u << 20) || (cfg->mem_size & 0xfff))
		return err_set(-EINVAL, "memory must be at least 1M and a multiple of 4K");
	return 0;
}

static int create_vcpus(struct vm *vm, int n)
{
	vm->vcpus = calloc((size_t)n, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return err_set(-ENOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		int r = vcpu_init(vm, i);
		vm->nvcpus = i + 1;
		if (r < 0)
			return r;
	}
	for (int i = 0; i < n; i++) {
		int r = vcpu_start_thread(&vm->vcpus[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

int vm_create(const struct vm_config *cfg, struct vm **out)
{
	const struct accel_ops *accel;
	int r = accel_pick(cfg->accel, &accel);
	if (r < 0 || (r = check_config(cfg, accel)) < 0)
		return r;
	struct vm *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return err_set(-ENOMEM, "out of memory");
	vm->accel = accel;
	vm->stats_fd = -1;
	vm->state = VM_CREATED;
	vm->stop.vcpu = -1;
	vm->created_ns = stats_now_ns();
	pthread_mutex_lock(&engine_lock);
	unsigned no = ++vm_serial_no;
	pthread_mutex_unlock(&engine_lock);
	if (cfg->name)
		snprintf(vm->name, sizeof(vm->name), "%s", cfg->name);
	else
		snprintf(vm->name, sizeof(vm->name), "vm%u", no);
	vm->syms = sym_create();
	if (!vm->syms)
		r = err_set(-ENOMEM, "out of memory");
	else if ((r = accel->vm_create(&vm->avm)) < 0)
		r = err_set(r, "creating a %s VM: %s", accel->name, strerror(-r));
	if (r == 0)
		r = create_memory(vm, cfg->mem_size);
	if (r == 0)
		r = create_platform(vm);
	if (r == 0) {
		int fd = accel->vm_stats_fd(vm->avm);
		vm->stats_fd = fd < 0 ? -1 : fd;
	}
	if (r == 0)
		r = create_vcpus(vm, cfg->vcpus);
	if (r < 0) {
		vm_destroy(vm);
		return r;
	}
	pthread_mutex_lock(&engine_lock);
	struct vm **p = &vm_head;
	while (*p)
		p = &(*p)->next;
	*p = vm;
	pthread_mutex_unlock(&engine_lock);
	*out = vm;
	return 0;
}

static bool all_parked(void *arg)
{
	struct vm *vm = arg;
	for (int i = 0; i < vm->nvcpus; i++)
		if (vm->vcpus[i].thread_started && !vm->vcpus[i].parked)
			return false;
	return true;
}

static void stop_threads(struct vm *vm)
{
	pthread_mutex_lock(&engine_lock);
	for (struct vm **p = &vm_head; *p; p = &(*p)->next)
		if (*p == vm) {
			*p = vm->next;
			break;
		}
	vm->quit = true;
	__atomic_store_n(&vm->pause_req, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < vm->nvcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	/* A vCPU may be waiting on a host call: serve while waiting for it. */
	engine_wait_until(all_parked, vm, 0);
	pthread_cond_broadcast(&park_cond);
	pthread_mutex_unlock(&engine_lock);
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	snap_drop_vm(vm);
	if (vm->vcpus) {
		stop_threads(vm);
		for (int i = 0; i < vm->nvcpus; i++)
			vcpu_fini(&vm->vcpus[i]);
		free(vm->vcpus);
	}
	bus_destroy(vm->bus);
	if (vm->stats_fd >= 0)
		close(vm->stats_fd);
	if (vm->avm)
		vm->accel->vm_destroy(vm->avm);
	if (vm->mem)
		munmap(vm->mem, vm->mem_size);
	membase_put(vm->base);
	sym_destroy(vm->syms);
	debug_destroy(vm);
	free(vm);
}

size_t vm_list(struct vm **out, size_t max)
{
	size_t n = 0;
	pthread_mutex_lock(&engine_lock);
	for (struct vm *vm = vm_head; vm; vm = vm->next, n++)
		if (n < max)
			out[n] = vm;
	pthread_mutex_unlock(&engine_lock);
	return n;
}

struct vm *vm_find(const char *name)
{
	struct vm *found = NULL;
	pthread_mutex_lock(&engine_lock);
	for (struct vm *vm = vm_head; vm && !found; vm = vm->next)
		if (strcmp(vm->name, name) == 0)
			found = vm;
	pthread_mutex_unlock(&engine_lock);
	return found;
}

const char *vm_name(const struct vm *vm) { return vm->name; }
int vm_vcpu_count(const struct vm *vm) { return vm->nvcpus; }
uint64_t vm_mem_size(const struct vm *vm) { return vm->mem_size; }
struct bus *vm_bus(struct vm *vm) { return vm->bus; }
const struct device_host *vm_device_host(struct vm *vm) { return &vm->host; }
struct symtab *vm_symbols(struct vm *vm) { return vm->syms; }

struct guest_ram vm_ram(struct vm *vm)
{
	return (struct guest_ram){ vm->mem, vm->low_size };
}

/* Host address of [gpa, gpa+len), which may not straddle the PCI hole. */
static uint8_t *gpa_to_host(struct vm *vm, uint64_t gpa, size_t len)
{
	if (gpa < vm->low_size && len <= vm->low_size - gpa)
		return vm->mem + gpa;
	uint64_t high = vm->mem_size - vm->low_size;
	if (gpa >= FOUR_GIB && gpa - FOUR_GIB <= high && len <= high - (gpa - FOUR_GIB))
		return vm->mem + vm->low_size + (gpa - FOUR_GIB);
	return NULL;
}

int vm_mem_read(struct vm *vm, uint64_t gpa, void *buf, size_t len)
{
	uint8_t *p = gpa_to_host(vm, gpa, len);
	if (!p)
		return err_set(-EFAULT, "guest-physical 0x%llx..0x%llx is outside %s's RAM",
			       (unsigned long long)gpa, (unsigned long long)(gpa + len), vm->name);
	memcpy(buf, p, len);
	debug_mask(vm, gpa, buf, len);
	return 0;
}

int vm_mem_write(struct vm *vm, uint64_t gpa, const void *buf, size_t len)
{
	uint8_t *p = gpa_to_host(vm, gpa, len);
	if (!p)
		return err_set(-EFAULT, "guest-physical 0x%llx..0x%llx is outside %s's RAM",
			       (unsigned long long)gpa, (unsigned long long)(gpa + len), vm->name);
	/* through the debugger: where an int3 is planted the write lands in the
	 * byte it saved, so the next stop does not put the old byte back */
	debug_mem_write(vm, gpa, p, buf, len);
	vm_ram_written(vm, gpa, len);
	return 0;
}

void vm_ram_written(struct vm *vm, uint64_t gpa, uint64_t len)
{
	if (vm->accel->ram_written)
		vm->accel->ram_written(vm->avm, gpa, len);
}

size_t vm_serial_output(struct vm *vm, char *buf, size_t cap) { return uart_output(vm->uart, buf, cap); }
uint64_t vm_serial_total(struct vm *vm) { return uart_output_total(vm->uart); }
void vm_serial_clear(struct vm *vm) { uart_output_clear(vm->uart); }
size_t vm_serial_input(struct vm *vm, const void *d, size_t n) { return uart_input(vm->uart, d, n); }
