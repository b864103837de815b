/* snap_files: snapshots as files (docs/snapshot-format.md): saving a VM
 * atomically, loading one into a new VM, restoring an existing VM from one;
 * memory as runs of non-zero pages, read back through a private mapping. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/state/snap_image.h"
#include "util/err.h"

/* Memory as runs of non-zero pages: a 1 GiB VM that touched 16 MiB writes
 * 16 MiB. The section header goes out first with a zero CRC and is patched
 * once the pages have gone through the CRC. */
struct run { uint64_t first, n; };

static int find_runs(struct vm *vm, struct run **out, uint64_t *count, uint64_t *bytes)
{
	uint64_t npages = vm->mem_size / PAGE;
	uint64_t *bm = snap_bitmap_new(npages);
	if (!bm)
		return -ENOMEM;
	int r = snap_mem_pages(vm, bm);
	struct run *runs = NULL;
	uint64_t n = 0, cap = 0, total = 0;
	for (uint64_t i = 0; r == 0 && i < npages; i++) {
		if (!(bm[i / 64] >> (i % 64) & 1) || snap_page_is_zero(vm->mem + i * PAGE))
			continue;
		if (n && runs[n - 1].first + runs[n - 1].n == i) {
			runs[n - 1].n++;
		} else {
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				struct run *nr = realloc(runs, cap * sizeof(*nr));
				if (!nr) {
					r = err_set(-ENOMEM, "out of memory");
					break;
				}
				runs = nr;
			}
			runs[n++] = (struct run){ i, 1 };
		}
		total += PAGE;
	}
	free(bm);
	if (r < 0) {
		free(runs);
		return r;
	}
	*out = runs;
	*count = n;
	*bytes = total;
	return 0;
}

static void le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int write_memory(struct snap_out *o, struct vm *vm)
{
	struct run *runs;
	uint64_t n, bytes;
	int r = find_runs(vm, &runs, &n, &bytes);
	if (r < 0)
		return r;
	uint64_t len = 8 + 4 + 8 + n * 16 + bytes, at = o->off;
	uint8_t h[SNAP_SECTION_HEADER], head[20], rh[16];
	snap_section_header(h, SNAP_SEC_MEMORY, len, 0);
	le64(head, vm->mem_size);
	memcpy(head + 8, (uint32_t[]){ PAGE }, 4);
	le64(head + 12, n);
	if ((r = snap_out_write(o, h, sizeof(h))) == 0) {
		snap_out_crc_reset(o);
		r = snap_out_write(o, head, sizeof(head));
	}
	for (uint64_t i = 0; r == 0 && i < n; i++) {
		le64(rh, runs[i].first * PAGE);
		le64(rh + 8, runs[i].n);
		r = snap_out_write(o, rh, sizeof(rh));
		if (r == 0)
			r = snap_out_write(o, vm->mem + runs[i].first * PAGE, runs[i].n * PAGE);
	}
	free(runs);
	if (r == 0) {
		snap_section_header(h, SNAP_SEC_MEMORY, len, o->crc);
		r = snap_out_patch(o, at, h, sizeof(h));
	}
	return r;
}

int snap_save(struct vm *vm, const char *path)
{
	struct snap_buf b = { 0 };
	struct snap_out o;
	bool held = snap_hold(vm);
	int r = snap_capture(vm, &b);
	if (r == 0 && (r = snap_out_open(&o, path)) == 0) {
		r = snap_out_write(&o, b.data, b.len);
		if (r == 0)
			r = write_memory(&o, vm);
		if (r == 0) {
			uint8_t end[SNAP_SECTION_HEADER];
			snap_section_header(end, SNAP_SEC_END, 0, snap_crc32c(0, NULL, 0));
			r = snap_out_write(&o, end, sizeof(end));
		}
		if (r == 0)
			r = snap_out_commit(&o);
		else
			snap_out_abort(&o);
	}
	snap_release(vm, held);
	snap_buf_free(&b);
	return r < 0 ? err_wrap(r, "saving %s to %s", vm->name, path) : 0;
}

struct mapped_file {
	const uint8_t *p;
	size_t len;
};

static int map_file(const char *path, struct mapped_file *f)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(-errno, "cannot open %s: %s", path, strerror(errno));
	struct stat st;
	int r = 0;
	f->p = NULL;
	f->len = 0;
	if (fstat(fd, &st) < 0) {
		r = err_set(-errno, "cannot stat %s: %s", path, strerror(errno));
	} else if (st.st_size > 0) {
		void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED)
			r = err_set(-errno, "cannot map %s: %s", path, strerror(errno));
		else {
			f->p = p;
			f->len = (size_t)st.st_size;
		}
	}
	close(fd);
	return r;
}

static void unmap_file(struct mapped_file *f)
{
	if (f->p)
		munmap((void *)f->p, f->len);
}

static int read_image(const char *path, struct mapped_file *f, struct image *img)
{
	memset(img, 0, sizeof(*img));
	int r = map_file(path, f);
	if (r < 0)
		return r;
	struct snap_reader rd;
	r = snap_file_open(f->p, f->len, &rd);
	if (r == 0)
		r = snap_parse_image(&rd, img, true);
	if (r < 0) {
		snap_image_free(img);
		unmap_file(f);
		return err_wrap(r, "%s", path);
	}
	return 0;
}

/* The VM's RAM is zero (fresh) when this runs. */
static void copy_memory(struct vm *vm, const struct snap_section *s)
{
	struct snap_reader r = { s->data, s->len, 20, 0 };
	uint64_t runs;
	memcpy(&runs, s->data + 12, 8);
	for (uint64_t i = 0; i < runs; i++) {
		uint64_t off = snap_get_u64(&r), n = snap_get_u64(&r);
		memcpy(vm->mem + off, snap_get_bytes(&r, n * PAGE), n * PAGE);
	}
}

int snap_load(const char *path, const char *name, const char *accel, struct vm **out)
{
	struct mapped_file f;
	struct image img;
	int r = read_image(path, &f, &img);
	if (r < 0)
		return r;
	struct vm_config cfg = { .mem_size = img.mem_size, .vcpus = (int)img.nvcpus, .accel = accel };
	cfg.name = name ? name : vm_find(img.name) ? NULL : img.name;
	struct vm *vm = NULL;
	r = vm_create(&cfg, &vm);
	if (r == 0) {
		copy_memory(vm, &img.memory);
		r = snap_apply(vm, &img);
		if (r < 0) {
			vm_destroy(vm);
			r = err_wrap(r, "loading %s", path);
		}
	}
	snap_image_free(&img);
	unmap_file(&f);
	if (r == 0)
		*out = vm;
	return r;
}

/* The file has passed every check, but KVM may still refuse a structure in it
 * (a crafted file with good checksums): the VM's state from just before is
 * kept as an internal snapshot and put back then, so a bad file changes nothing. */
int snap_restore_file(struct vm *vm, const char *path)
{
	struct mapped_file f;
	struct image img;
	int r = read_image(path, &f, &img);
	if (r < 0)
		return r;
	r = snap_check_fits(vm, &img);
	struct membase *fresh = NULL;
	struct snap undo;
	memset(&undo, 0, sizeof(undo));
	if (r == 0) {
		char name[80];
		snprintf(name, sizeof(name), "hvwb:%s", vm->name);
		fresh = membase_new(vm->mem_size, name);
		r = fresh ? 0 : -ENOMEM;
	}
	if (r == 0) {
		vm_pause(vm);
		r = snap_take_state(vm, &undo);
	}
	if (r == 0 && (r = vm_mem_remap(vm, fresh, true)) == 0) {
		copy_memory(vm, &img.memory);
		if ((r = snap_apply(vm, &img)) < 0) {
			char why[512];
			snprintf(why, sizeof(why), "%s", err_msg());
			snap_restore_from(vm, &undo);
			r = err_set(r, "%s (the VM was left as it was)", why);
		}
	}
	if (undo.mem)
		membase_put(undo.mem);
	snap_buf_free(&undo.state);
	membase_put(fresh);
	snap_image_free(&img);
	unmap_file(&f);
	return r;
}

