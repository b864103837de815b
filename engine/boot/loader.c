/* loader: the entry points and what every format shares. A program is first
 * turned into a list of pieces (address, bytes, zero fill); the list is checked
 * as a whole -- inside guest RAM, no overlaps, clear of the boot area -- and only
 * then copied, so a file that is refused has written nothing. Raw binaries are
 * handled here; ELF and multiboot have their own files. */
#include "engine/boot/loader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/debug/elfsyms.h"
#include "util/err.h"
#include "engine/boot/loader_int.h"

#define RAW_DEFAULT_ADDR 0x7c00ull

int loader_set_add(struct loader_set *set, uint64_t gpa, const void *src, uint64_t filesz,
		   uint64_t memsz, const char *fmt, ...)
{
	if (set->n == set->cap) {
		int cap = set->cap ? set->cap * 2 : 8;
		struct loader_piece *v = realloc(set->v, (size_t)cap * sizeof(*v));
		if (!v)
			return err_set(-ENOMEM, "out of memory");
		set->v = v;
		set->cap = cap;
	}
	struct loader_piece *p = &set->v[set->n++];
	p->gpa = gpa;
	p->src = src;
	p->filesz = filesz;
	p->memsz = memsz;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->what, sizeof(p->what), fmt, ap);
	va_end(ap);
	return 0;
}

void loader_set_free(struct loader_set *set)
{
	free(set->v);
	set->v = NULL;
	set->n = set->cap = 0;
}

const char *loader_size_str(uint64_t size, char *buf, size_t n)
{
	if (size && size % (1ull << 30) == 0)
		snprintf(buf, n, "%llu GiB", (unsigned long long)(size >> 30));
	else if (size && size % (1ull << 20) == 0)
		snprintf(buf, n, "%llu MiB", (unsigned long long)(size >> 20));
	else if (size && size % 1024 == 0)
		snprintf(buf, n, "%llu KiB", (unsigned long long)(size >> 10));
	else
		snprintf(buf, n, "%llu bytes", (unsigned long long)size);
	return buf;
}

static int cmp_piece(const void *a, const void *b)
{
	const struct loader_piece *x = *(const struct loader_piece *const *)a;
	const struct loader_piece *y = *(const struct loader_piece *const *)b;
	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

static int check_piece(const struct guest_ram *ram, const struct loader_piece *p, bool avoid_boot)
{
	char sz[32];
	unsigned long long lo = p->gpa, hi = p->gpa + p->memsz;

	if (p->filesz > p->memsz)
		return err_set(-EINVAL, "%s: %llu bytes in the file but only %llu in memory",
			       p->what, (unsigned long long)p->filesz, (unsigned long long)p->memsz);
	if (!guest_range_ok(ram, p->gpa, p->memsz))
		return err_set(-ERANGE, "%s at 0x%llx - 0x%llx does not fit in %s of guest RAM",
			       p->what, lo, p->gpa > UINT64_MAX - p->memsz ? ~0ull : hi,
			       loader_size_str(ram->size, sz, sizeof(sz)));
	if (avoid_boot && p->gpa < BOOT_AREA_END && hi > BOOT_AREA_START)
		return err_set(-EINVAL, "%s at 0x%llx - 0x%llx overlaps the boot area 0x%llx - 0x%llx "
			       "(GDT and page tables)", p->what, lo, hi, BOOT_AREA_START, BOOT_AREA_END);
	return 0;
}

int loader_set_check(const struct guest_ram *ram, const struct loader_set *set, bool avoid_boot)
{
	const struct loader_piece **order;
	int n = 0, rc = 0;

	for (int i = 0; i < set->n; i++) {
		rc = check_piece(ram, &set->v[i], avoid_boot);
		if (rc < 0)
			return rc;
	}
	order = malloc(((size_t)set->n + 1) * sizeof(*order));
	if (!order)
		return err_set(-ENOMEM, "out of memory");
	for (int i = 0; i < set->n; i++)
		if (set->v[i].memsz)
			order[n++] = &set->v[i];
	qsort(order, (size_t)n, sizeof(*order), cmp_piece);
	for (int i = 1; i < n && rc == 0; i++) {
		const struct loader_piece *a = order[i - 1], *b = order[i];
		if (a->gpa + a->memsz > b->gpa)
			rc = err_set(-EINVAL, "%s (0x%llx - 0x%llx) overlaps %s (0x%llx - 0x%llx)",
				     a->what, (unsigned long long)a->gpa,
				     (unsigned long long)(a->gpa + a->memsz), b->what,
				     (unsigned long long)b->gpa, (unsigned long long)(b->gpa + b->memsz));
	}
	free(order);
	return rc;
}

void loader_set_write(struct guest_ram *ram, const struct loader_set *set)
{
	for (int i = 0; i < set->n; i++) {
		const struct loader_piece *p = &set->v[i];
		if (p->filesz)
			memcpy(ram->host + p->gpa, p->src, p->filesz);
		memset(ram->host + p->gpa + p->filesz, 0, p->memsz - p->filesz);
	}
}

void loader_set_extent(const struct loader_set *set, int n, uint64_t *lo, uint64_t *hi)
{
	*lo = UINT64_MAX;
	*hi = 0;
	for (int i = 0; i < n && i < set->n; i++) {
		const struct loader_piece *p = &set->v[i];
		if (!p->memsz)
			continue;
		if (p->gpa < *lo)
			*lo = p->gpa;
		if (p->gpa + p->memsz > *hi)
			*hi = p->gpa + p->memsz;
	}
	if (*hi == 0)
		*lo = 0;
}

int loader_finish(struct guest_ram *ram, const struct loader_set *set,
		  struct loader_elf_info *info, struct symtab *syms)
{
	int rc = 0;
	loader_set_write(ram, set);
	if (info->syms && syms)
		rc = sym_merge(syms, info->syms);
	sym_destroy(info->syms);
	info->syms = NULL;
	return rc;
}

int loader_read_file(const char *path, uint64_t max, uint8_t **out, size_t *outlen)
{
	struct stat st;
	char sz[32], rsz[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		return err_set(-e, "%s: %s", path, strerror(e));
	}
	int bad = fstat(fd, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
	if (bad) {
		int e = bad;
		close(fd);
		return err_set(-e, "%s: %s", path, strerror(e));
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return err_set(-EFBIG, "%s is %s, larger than the %s of guest RAM", path,
			       loader_size_str((uint64_t)st.st_size, sz, sizeof(sz)),
			       loader_size_str(max, rsz, sizeof(rsz)));
	}
	/* st_size is only a hint: pipes say 0 and files can grow while we read. */
	size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 65536, len = 0;
	uint8_t *buf = malloc(cap);
	int rc = buf ? 0 : err_set(-ENOMEM, "%s: out of memory", path);
	while (rc == 0) {
		if (len == cap) {
			uint8_t *nb = cap > max ? NULL : realloc(buf, cap * 2);
			if (!nb) {
				rc = cap > max ? err_set(-EFBIG, "%s is larger than the %s of guest RAM",
							 path, loader_size_str(max, rsz, sizeof(rsz)))
					       : err_set(-ENOMEM, "%s: out of memory", path);
				break;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			rc = err_set(-e, "%s: %s", path, strerror(e));
		} else if (r == 0) {
			break;
		}
		len += r > 0 ? (size_t)r : 0;
	}
	close(fd);
	if (rc == 0 && len > max)
		rc = err_set(-EFBIG, "%s is larger than the %s of guest RAM", path,
			     loader_size_str(max, rsz, sizeof(rsz)));
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

static int check_mode(int mode)
{
	if (mode > MODE_LONG64)
		return err_set(-EINVAL, "unknown CPU mode %d (0 real16, 1 prot32, 2 long64)", mode);
	return 0;
}

static int loader_raw(struct guest_ram *ram, const uint8_t *buf, size_t len,
		      const struct load_opts *opts, struct boot_plan *plan)
{
	struct loader_set set = { 0 };
	uint64_t addr = opts->addr ? opts->addr : RAW_DEFAULT_ADDR;
	int mode = opts->mode >= 0 ? opts->mode : MODE_REAL16;
	int rc;

	if (len == 0)
		return err_set(-EINVAL, "the file is empty");
	if ((rc = check_mode(mode)) < 0)
		return rc;
	plan->entry = opts->entry ? opts->entry : addr;
	if (mode == MODE_REAL16 && plan->entry > 0xfffff)
		return err_set(-EINVAL, "real-mode entry 0x%llx is above 1 MiB",
			       (unsigned long long)plan->entry);
	rc = loader_set_add(&set, addr, buf, len, len, "image");
	/* Real mode needs no GDT or page tables, so only other modes keep clear. */
	if (rc == 0)
		rc = loader_set_check(ram, &set, mode != MODE_REAL16);
	if (rc == 0) {
		loader_set_write(ram, &set);
		plan->mode = (enum cpu_mode)mode;
		plan->load_lo = addr;
		plan->load_hi = addr + len;
	}
	loader_set_free(&set);
	return rc;
}

static enum loader_format detect(const uint8_t *buf, size_t len)
{
	if (loader_multiboot_find(buf, len) >= 0)
		return LOAD_MULTIBOOT;
	if (len >= 4 && memcmp(buf, "\177ELF", 4) == 0)
		return LOAD_ELF;
	return LOAD_RAW;
}

int loader_load_buffer(struct guest_ram *ram, const void *buf, size_t len, const char *name,
		       const struct load_opts *opts, struct boot_plan *plan, struct symtab *syms)
{
	struct load_opts defaults;
	int rc;

	if (!ram || !ram->host || (!buf && len) || !plan)
		return err_set(-EINVAL, "loader: missing argument");
	if (!opts) {
		load_opts_init(&defaults);
		opts = &defaults;
	}
	if (!name)
		name = "program";
	memset(plan, 0, sizeof(*plan));
	enum loader_format fmt = opts->format == LOAD_AUTO ? detect(buf, len) : opts->format;
	switch (fmt) {
	case LOAD_RAW:
		rc = loader_raw(ram, buf, len, opts, plan);
		break;
	case LOAD_ELF:
		rc = loader_elf(ram, buf, len, opts, plan, syms);
		break;
	case LOAD_MULTIBOOT:
		rc = loader_multiboot(ram, buf, len, name, opts, plan, syms);
		break;
	default:
		rc = err_set(-EINVAL, "unknown program format %d", (int)fmt);
	}
	if (rc < 0)
		return err_wrap(rc, "%s", name);
	return 0;
}

int loader_load(struct guest_ram *ram, const char *path, const struct load_opts *opts,
		struct boot_plan *plan, struct symtab *syms)
{
	uint8_t *buf;
	size_t len;

	if (!ram || !path || !plan)
		return err_set(-EINVAL, "loader: missing argument");
	int rc = loader_read_file(path, ram->size, &buf, &len);
	if (rc < 0)
		return rc;
	rc = loader_load_buffer(ram, buf, len, path, opts, plan, syms);
	free(buf);
	return rc;
}

const char *loader_format_name(enum loader_format f)
{
	switch (f) {
	case LOAD_AUTO: return "auto";
	case LOAD_RAW: return "raw";
	case LOAD_ELF: return "elf";
	case LOAD_MULTIBOOT: return "multiboot";
	}
	return "unknown";
}
