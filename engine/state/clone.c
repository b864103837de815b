/* clone: the memory side of snapshots and clones. Guest RAM lives in a memfd
 * (a "base"); freezing makes the VM's current RAM an image that nobody writes
 * any more, so snapshots and clones can map it copy-on-write. Which pages a VM
 * has written since it last froze is read from /proc/self/pagemap: a written
 * page of a private file mapping is an anonymous page there. That needs no
 * tracking of host-side writes (loaders, vm_mem_write) and no dirty log. The
 * design and its costs are in docs/clones.md. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"
#include "engine/state/snapshot.h"
#include "engine/core/vm_internal.h"

#define PAGE 4096u
#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)
#define PM_FILE    (1ull << 61)
#define PM_CHUNK   65536u      /* pagemap entries read at a time (512 KiB) */

static void set_bits(uint64_t *bm, uint64_t first, uint64_t n)
{
	for (uint64_t i = first; i < first + n; i++)
		bm[i / 64] |= 1ull << (i % 64);
}

static bool test_bit(const uint64_t *bm, uint64_t i)
{
	return bm[i / 64] >> (i % 64) & 1;
}

uint64_t *snap_bitmap_new(uint64_t npages)
{
	uint64_t *bm = calloc((npages + 63) / 64, 8);
	if (!bm)
		err_set(-ENOMEM, "out of memory");
	return bm;
}

/* Pages the base file has storage for (tmpfs answers SEEK_DATA exactly). */
static int file_pages(int fd, uint64_t size, uint64_t *bm)
{
	off_t pos = 0;
	while ((uint64_t)pos < size) {
		off_t d = lseek(fd, pos, SEEK_DATA);
		if (d < 0 && errno == ENXIO)
			break;
		if (d < 0)
			return err_set(-errno, "SEEK_DATA on guest RAM: %s", strerror(errno));
		off_t h = lseek(fd, d, SEEK_HOLE);
		if (h < 0 || (uint64_t)h > size)
			h = (off_t)size;
		uint64_t first = (uint64_t)d / PAGE, last = ((uint64_t)h + PAGE - 1) / PAGE;
		set_bits(bm, first, last - first);
		pos = h;
	}
	return 0;
}

/* Pages of the VM's private mapping that are its own copies: present and not
 * file pages, or swapped out; marked in bm unless it is NULL. Returns how many. */
static int64_t private_pages(struct vm *vm, uint64_t *bm)
{
	static int fd = -1;
	if (fd < 0 && (fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)) < 0)
		return err_set(-errno, "cannot open /proc/self/pagemap: %s", strerror(errno));
	uint64_t *buf = malloc(PM_CHUNK * 8);
	if (!buf)
		return err_set(-ENOMEM, "out of memory");
	uint64_t npages = vm->mem_size / PAGE, first = (uintptr_t)vm->mem / PAGE;
	int64_t count = 0;
	for (uint64_t i = 0; i < npages; i += PM_CHUNK) {
		uint64_t n = npages - i < PM_CHUNK ? npages - i : PM_CHUNK;
		ssize_t got = pread(fd, buf, n * 8, (off_t)((first + i) * 8));
		if (got != (ssize_t)(n * 8)) {
			free(buf);
			return err_set(-EIO, "reading /proc/self/pagemap: %s", got < 0 ? strerror(errno) : "short read");
		}
		for (uint64_t j = 0; j < n; j++) {
			uint64_t e = buf[j];
			if (((e & PM_PRESENT) && !(e & PM_FILE)) || (e & PM_SWAPPED)) {
				if (bm)
					bm[(i + j) / 64] |= 1ull << ((i + j) % 64);
				count++;
			}
		}
	}
	free(buf);
	return count;
}

int snap_mem_pages(struct vm *vm, uint64_t *bm)
{
	int r = file_pages(vm->base->fd, vm->mem_size, bm);
	if (r == 0 && vm->mem_private) {
		int64_t n = private_pages(vm, bm);
		r = n < 0 ? (int)n : 0;
	}
	return r;
}

int snap_mem_dirty(struct vm *vm, uint64_t *bytes)
{
	if (!vm->mem_private)
		return err_set(-ENOENT, "VM %s has no snapshot or clone yet", vm->name);
	int64_t n = private_pages(vm, NULL);
	if (n < 0)
		return (int)n;
	*bytes = (uint64_t)n * PAGE;
	return 0;
}

bool snap_page_is_zero(const uint8_t *p)
{
	const uint64_t *q = (const uint64_t *)p;
	uint64_t acc = 0;
	for (unsigned i = 0; i < PAGE / 8; i++)
		acc |= q[i];
	return acc == 0;
}

static int pwrite_all(int fd, const uint8_t *p, uint64_t n, uint64_t off)
{
	while (n) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return err_set(-(w < 0 ? errno : EIO), "writing a RAM image: %s",
				       w < 0 ? strerror(errno) : "short write");
		p += w;
		n -= (uint64_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* Writes the pages marked in bm from the VM's mapping into fd, in runs; with
 * skip_zero, all-zero pages are left as holes. */
static int write_pages(struct vm *vm, const uint64_t *bm, int fd, bool skip_zero)
{
	uint64_t npages = vm->mem_size / PAGE;
	for (uint64_t i = 0; i < npages;) {
		if (!(bm[i / 64] >> (i % 64)) && i % 64 == 0) {
			i += 64;
			continue;
		}
		if (!test_bit(bm, i) || (skip_zero && snap_page_is_zero(vm->mem + i * PAGE))) {
			i++;
			continue;
		}
		uint64_t j = i + 1;
		while (j < npages && test_bit(bm, j) && !(skip_zero && snap_page_is_zero(vm->mem + j * PAGE)))
			j++;
		int r = pwrite_all(fd, vm->mem + i * PAGE, (j - i) * PAGE, i * PAGE);
		if (r < 0)
			return r;
		i = j;
	}
	return 0;
}

/* A new base holding the VM's RAM as it looks now: the old base's data pages
 * and the VM's own copies, zero pages left out. */
static int rebase(struct vm *vm, uint64_t *bm)
{
	int r = file_pages(vm->base->fd, vm->mem_size, bm);
	if (r < 0)
		return r;
	char name[80];
	snprintf(name, sizeof(name), "hvwb:%s", vm->name);
	struct membase *nb = membase_new(vm->mem_size, name);
	if (!nb)
		return -ENOMEM;
	r = write_pages(vm, bm, nb->fd, true);
	if (r == 0)
		r = vm_mem_remap(vm, nb, false);
	membase_put(nb);
	return r;
}

int snap_mem_freeze(struct vm *vm, struct membase **out)
{
	int r = 0;
	if (!vm->mem_private) {
		r = vm_mem_remap(vm, vm->base, false);
	} else {
		uint64_t *bm = snap_bitmap_new(vm->mem_size / PAGE);
		if (!bm)
			return -ENOMEM;
		int64_t n = private_pages(vm, bm);
		if (n < 0)
			r = (int)n;
		else if (n > 0 && vm->base->refs == 1)
			/* Nobody else sees the base: bring it up to date in place. */
			r = write_pages(vm, bm, vm->base->fd, false) ?: vm_mem_remap(vm, vm->base, false);
		else if (n > 0)
			r = rebase(vm, bm);
		free(bm);
	}
	if (r == 0)
		*out = membase_get(vm->base);
	return r;
}
