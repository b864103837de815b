/* snapshot: taking a VM's whole state (every vCPU's registers, FPU, MSRs,
 * LAPIC and pending events; the in-kernel irqchip, PIT and clock; every device
 * model; guest RAM) and putting it back, into the same VM, a file, or a new VM.
 * The state is always encoded as the sections of the file format, so a
 * snapshot, a file and a clone go through one decoder; only RAM differs: a
 * snapshot or a clone holds a frozen copy-on-write base (clone.c), a file holds
 * the non-zero pages. Everything is parsed and checked before anything is
 * changed, so a bad file leaves every VM as it was. Files are snap_files.c;
 * the accelerator's records snap_cpu.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"
#include "engine/state/snap_image.h"

#define MAX_SNAP_VCPUS 1024u

static struct snap *snap_head;
static uint64_t snap_next_id = 1;

/* ---- pausing a running VM for the moment the state is taken ---- */

bool snap_hold(struct vm *vm)
{
	if (vm_state(vm) != VM_RUNNING)
		return false;
	vm_pause(vm);
	struct vm_stop s;
	vm_last_stop(vm, &s);
	return vm_state(vm) == VM_PAUSED && s.kind == STOP_PAUSE;
}

void snap_release(struct vm *vm, bool held)
{
	if (held)
		vm_resume(vm);
}

/* ---- capture ---- */


void snap_collect_dev(struct device *dev, void *arg)
{
	struct dev_walk *w = arg;
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 16;
		struct device **d = realloc(w->devs, cap * sizeof(*d));
		if (!d)
			return;
		w->devs = d;
		w->cap = cap;
	}
	w->devs[w->n++] = dev;
}

static int put_devices(struct snap_buf *b, struct vm *vm)
{
	struct dev_walk w = { 0 };
	bus_for_each_device(vm->bus, snap_collect_dev, &w);
	size_t at = snap_section_begin(b, SNAP_SEC_DEVICES);
	snap_buf_u32(b, (uint32_t)w.n);
	int r = 0;
	for (size_t i = 0; r == 0 && i < w.n; i++) {
		void *state = NULL;
		size_t len = 0;
		struct device *d = w.devs[i];
		if (d->save && (r = d->save(d, &state, &len)) < 0)
			r = err_wrap(r, "saving device '%s'", d->name);
		snap_buf_str(b, d->name);
		snap_buf_u32(b, d->save != NULL);
		snap_buf_u32(b, (uint32_t)len);
		snap_buf_put(b, state, len);
		free(state);
	}
	free(w.devs);
	snap_section_end(b, at);
	return r;
}

static void put_vm(struct snap_buf *b, struct vm *vm)
{
	size_t at = snap_section_begin(b, SNAP_SEC_VM);
	pthread_mutex_lock(&engine_lock);
	struct vm_stop stop = vm->stop;
	enum vm_state state = vm->state;
	pthread_mutex_unlock(&engine_lock);
	snap_buf_str(b, vm->name);
	snap_buf_u64(b, vm->mem_size);
	snap_buf_u32(b, (uint32_t)vm->nvcpus);
	snap_buf_u32(b, state);
	snap_buf_u32(b, stop.kind);
	snap_buf_u32(b, (uint32_t)stop.vcpu);
	snap_buf_u64(b, (uint64_t)stop.exit_code);
	snap_buf_u32(b, stop.kvm_exit);
	snap_buf_u64(b, stop.rip);
	snap_buf_u32(b, stop.insn_len);
	snap_buf_put(b, stop.insn, sizeof(stop.insn));
	snap_buf_str(b, stop.reason);
	snap_section_end(b, at);
}

/* The VM must not be running. */
int snap_capture(struct vm *vm, struct snap_buf *b)
{
	put_vm(b, vm);
	int r = 0;
	for (int i = 0; r == 0 && i < vm->nvcpus; i++)
		r = snap_put_vcpu(b, &vm->vcpus[i]);
	if (r == 0)
		r = snap_put_platform(b, vm);
	if (r == 0)
		r = put_devices(b, vm);
	if (r == 0 && b->err)
		r = err_set(b->err, "out of memory");
	return r;
}

/* ---- parsing and checking ---- */


static int bad(const char *fmt, const char *what)
{
	return err_set(-EINVAL, fmt, what);
}

/* Records are tag, length, bytes; every tag once, each of the size this
 * host's KVM uses. */
static int parse_recs(struct snap_reader *r, struct recs *out, uint32_t max, const size_t *sizes,
		      const char *what)
{
	memset(out, 0, sizeof(*out));
	while (r->pos < r->len) {
		uint32_t tag = snap_get_u32(r), len = snap_get_u32(r);
		const uint8_t *p = snap_get_bytes(r, len);
		if (!p || tag == 0 || tag >= max || out->p[tag])
			return bad("the snapshot is corrupt: a bad record in the %s section", what);
		if (sizes[tag] && len != sizes[tag])
			return err_set(-EINVAL, "the snapshot's %s record %u has %u bytes, hvwb uses %zu",
				       what, tag, len, sizes[tag]);
		out->p[tag] = p;
		out->len[tag] = len;
	}
	return 0;
}

static int parse_vcpu(const struct snap_section *s, struct image *img)
{
	struct snap_reader r = { s->data, s->len, 0, 0 };
	uint32_t index = snap_get_u32(&r);
	if (r.err || index >= img->nvcpus || img->vcpu[index].p[REC_REGS])
		return bad("the snapshot is corrupt: %s", "a vCPU section has a bad or repeated index");
	int rc = parse_recs(&r, &img->vcpu[index], REC_MAX, snap_vcpu_rec_size, "vCPU");
	if (rc < 0)
		return rc;
	const struct recs *v = &img->vcpu[index];
	if (!v->p[REC_REGS] || !v->p[REC_SREGS] || !v->p[REC_LAPIC])
		return bad("the snapshot is incomplete: %s", "a vCPU lacks registers or its LAPIC");
	if (v->p[REC_MSRS]) {
		uint32_t n;
		memcpy(&n, v->p[REC_MSRS], 4);
		if ((uint64_t)n * 12 + 4 != v->len[REC_MSRS])
			return bad("the snapshot is corrupt: %s", "the MSR record's count does not match its size");
	}
	return 0;
}

static int parse_vm(const struct snap_section *s, struct image *img)
{
	struct snap_reader r = { s->data, s->len, 0, 0 };
	snap_get_str(&r, img->name, sizeof(img->name));
	img->mem_size = snap_get_u64(&r);
	img->nvcpus = snap_get_u32(&r);
	img->state = (enum vm_state)snap_get_u32(&r);
	memset(&img->stop, 0, sizeof(img->stop));
	img->stop.kind = (enum stop_kind)snap_get_u32(&r);
	img->stop.vcpu = (int)snap_get_u32(&r);
	img->stop.exit_code = (int64_t)snap_get_u64(&r);
	img->stop.kvm_exit = snap_get_u32(&r);
	img->stop.rip = snap_get_u64(&r);
	img->stop.insn_len = snap_get_u32(&r);
	const void *insn = snap_get_bytes(&r, sizeof(img->stop.insn));
	if (insn)
		memcpy(img->stop.insn, insn, sizeof(img->stop.insn));
	snap_get_str(&r, img->stop.reason, sizeof(img->stop.reason));
	if (r.err || r.pos != r.len || !img->name[0] || img->nvcpus == 0 || img->nvcpus > MAX_SNAP_VCPUS ||
	    img->mem_size < (1u << 20) || img->mem_size % PAGE || img->state > VM_CRASHED ||
	    img->stop.kind >= STOP_KINDS || img->stop.insn_len > sizeof(img->stop.insn))
		return bad("the snapshot is corrupt: %s", "its VM section holds impossible values");
	img->vcpu = calloc(img->nvcpus, sizeof(*img->vcpu));
	return img->vcpu ? 0 : err_set(-ENOMEM, "out of memory");
}

static int check_devices(const struct snap_section *s)
{
	struct snap_reader r = { s->data, s->len, 0, 0 };
	uint32_t n = snap_get_u32(&r);
	for (uint32_t i = 0; i < n && !r.err; i++) {
		char name[64];
		snap_get_str(&r, name, sizeof(name));
		snap_get_u32(&r);
		snap_get_bytes(&r, snap_get_u32(&r));
	}
	if (r.err || r.pos != r.len)
		return bad("the snapshot is corrupt: %s", "its device list does not add up");
	return 0;
}

static int check_memory(const struct snap_section *s, uint64_t mem_size)
{
	struct snap_reader r = { s->data, s->len, 0, 0 };
	uint64_t size = snap_get_u64(&r);
	uint32_t page = snap_get_u32(&r);
	uint64_t runs = snap_get_u64(&r);
	if (r.err || size != mem_size || page != PAGE)
		return bad("the snapshot is corrupt: %s", "its memory section does not match its VM");
	for (uint64_t i = 0; i < runs; i++) {
		uint64_t off = snap_get_u64(&r), n = snap_get_u64(&r);
		if (r.err || off % PAGE || off > size || n > (size - off) / PAGE ||
		    !snap_get_bytes(&r, n * PAGE))
			return bad("the snapshot is corrupt: %s", "a memory run lies outside RAM or is cut short");
	}
	if (r.pos != r.len)
		return bad("the snapshot is corrupt: %s", "its memory section has bytes left over");
	return 0;
}

static int parse_section(const struct snap_section *s, struct image *img, bool *seen_vm, bool *end)
{
	if (*end)
		return bad("the snapshot is corrupt: %s", "there are sections after its end");
	if (!*seen_vm && s->type != SNAP_SEC_VM)
		return bad("the snapshot is corrupt: %s", "it does not start with a VM section");
	struct snap_reader r = { s->data, s->len, 0, 0 };
	switch (s->type) {
	case SNAP_SEC_VM:
		if (*seen_vm)
			return bad("the snapshot is corrupt: %s", "it has two VM sections");
		*seen_vm = true;
		return parse_vm(s, img);
	case SNAP_SEC_VCPU:
		return parse_vcpu(s, img);
	case SNAP_SEC_PLATFORM:
		return parse_recs(&r, &img->platform, PREC_MAX, snap_platform_rec_size, "platform");
	case SNAP_SEC_DEVICES:
		img->devices = *s;
		img->has_devices = true;
		return check_devices(s);
	case SNAP_SEC_MEMORY:
		img->memory = *s;
		img->has_memory = true;
		return check_memory(s, img->mem_size);
	case SNAP_SEC_END:
		*end = true;
		return 0;
	default:
		return err_set(-EINVAL, "the snapshot has a section of unknown type %u", s->type);
	}
}

/* Parses and checks everything: sections, records, sizes. `file` wants the
 * memory section and the end marker a complete file has. */
int snap_parse_image(struct snap_reader *r, struct image *img, bool file)
{
	memset(img, 0, sizeof(*img));
	bool seen_vm = false, end = false;
	struct snap_section s;
	int rc;
	while ((rc = snap_next_section(r, &s)) > 0)
		if ((rc = parse_section(&s, img, &seen_vm, &end)) < 0)
			return rc;
	if (rc < 0)
		return rc;
	if (file && (!img->has_memory || !end))
		return bad("the snapshot is truncated: %s", "its memory section or end marker is missing");
	if (!seen_vm || !img->has_devices || !img->platform.p[REC_PIT2])
		return bad("the snapshot is incomplete: %s", "a VM, platform or device section is missing");
	for (uint32_t i = 0; i < img->nvcpus; i++)
		if (!img->vcpu[i].p[REC_REGS])
			return err_set(-EINVAL, "the snapshot is incomplete: vCPU %u is missing", i);
	return 0;
}

void snap_image_free(struct image *img)
{
	free(img->vcpu);
	img->vcpu = NULL;
}

/* ---- applying ---- */

/* The k-th device named `name` on the VM's bus (devices are matched by name and
 * order, so a Lua device added after the snapshot does not shift the others). */
struct device *snap_nth_device(const struct dev_walk *w, const char *name, unsigned k)
{
	for (size_t i = 0; i < w->n; i++)
		if (strcmp(w->devs[i]->name, name) == 0 && k-- == 0)
			return w->devs[i];
	return NULL;
}

struct saved_dev {
	char name[64];
	uint32_t has_state, len;
	const void *state;
};

static int read_devices(const struct snap_section *s, struct saved_dev **out, uint32_t *count)
{
	struct snap_reader r = { s->data, s->len, 0, 0 };
	uint32_t n = snap_get_u32(&r);
	struct saved_dev *d = calloc(n + 1, sizeof(*d));
	if (!d)
		return err_set(-ENOMEM, "out of memory");
	for (uint32_t i = 0; i < n; i++) {
		snap_get_str(&r, d[i].name, sizeof(d[i].name));
		d[i].has_state = snap_get_u32(&r);
		d[i].len = snap_get_u32(&r);
		d[i].state = snap_get_bytes(&r, d[i].len);
	}
	*out = d;
	*count = n;
	return 0;
}

/* Devices the snapshot knows and the VM lacks (Lua devices in a file loaded
 * into a new VM) are skipped: only a script can create those again. */
static int apply_devices(struct vm *vm, const struct snap_section *s)
{
	struct saved_dev *saved = NULL;
	uint32_t n = 0;
	int r = read_devices(s, &saved, &n);
	if (r < 0)
		return r;
	struct dev_walk w = { 0 };
	bus_for_each_device(vm->bus, snap_collect_dev, &w);
	for (uint32_t i = 0; r == 0 && i < n; i++) {
		unsigned k = 0;
		for (uint32_t j = 0; j < i; j++)
			k += strcmp(saved[j].name, saved[i].name) == 0;
		struct device *d = snap_nth_device(&w, saved[i].name, k);
		if (!d || !saved[i].has_state || !d->restore)
			continue;
		if ((r = d->restore(d, saved[i].state, saved[i].len)) < 0)
			r = err_wrap(r, "restoring device '%s'", d->name);
	}
	free(w.devs);
	free(saved);
	return r;
}

static void set_run_state(struct vm *vm, const struct image *img)
{
	pthread_mutex_lock(&engine_lock);
	vm->state = img->state == VM_RUNNING ? VM_PAUSED : img->state;
	vm->stop = img->stop;
	if (img->state == VM_RUNNING)
		vm->stop.kind = STOP_PAUSE;
	pthread_mutex_unlock(&engine_lock);
}

/* Devices first: the UART may move its IRQ line, which the irqchip state put
 * back afterwards then overrides. */
int snap_apply(struct vm *vm, const struct image *img)
{
	int r = apply_devices(vm, &img->devices);
	if (r == 0)
		r = snap_apply_platform(vm, &img->platform);
	for (int i = 0; r == 0 && i < vm->nvcpus; i++)
		r = snap_apply_vcpu(&vm->vcpus[i], &img->vcpu[i]);
	if (r == 0)
		set_run_state(vm, img);
	return r;
}

int snap_check_fits(struct vm *vm, const struct image *img)
{
	if (img->mem_size != vm->mem_size || img->nvcpus != (uint32_t)vm->nvcpus)
		return err_set(-EINVAL, "the snapshot is of a VM with %llu MiB and %u vCPUs; %s has %llu MiB and %d",
			       (unsigned long long)(img->mem_size >> 20), img->nvcpus, vm->name,
			       (unsigned long long)(vm->mem_size >> 20), vm->nvcpus);
	return 0;
}

/* ---- snapshots in memory ---- */

void snap_free(struct snap *s)
{
	snap_buf_free(&s->state);
	membase_put(s->mem);
	free(s);
}

/* State and a frozen RAM base, with the VM paused for the moment if it runs. */
int snap_take_state(struct vm *vm, struct snap *s)
{
	bool held = snap_hold(vm);
	int r = snap_capture(vm, &s->state);
	if (r == 0)
		r = snap_mem_freeze(vm, &s->mem);
	snap_release(vm, held);
	if (r < 0)
		snap_buf_free(&s->state);
	return r;
}

int snap_take(struct vm *vm, const char *name, struct snap **out)
{
	if (name && strlen(name) >= sizeof(((struct snap *)0)->name))
		return err_set(-EINVAL, "a snapshot name must have at most %zu characters",
			       sizeof(((struct snap *)0)->name) - 1);
	struct snap *s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(-ENOMEM, "out of memory");
	s->vm = vm;
	int r = snap_take_state(vm, s);
	if (r < 0) {
		free(s);
		return r;
	}
	s->id = snap_next_id++;
	if (name)
		snprintf(s->name, sizeof(s->name), "%s", name);
	else
		snprintf(s->name, sizeof(s->name), "snap%llu", (unsigned long long)s->id);
	struct snap **p = &snap_head;
	while (*p)
		p = &(*p)->next;
	*p = s;
	*out = s;
	return 0;
}

/* The VM must not be running. */
int snap_restore_from(struct vm *vm, struct snap *s)
{
	struct snap_reader rd = { s->state.data, s->state.len, 0, 0 };
	struct image img;
	int r = snap_parse_image(&rd, &img, false);
	if (r == 0)
		r = snap_check_fits(vm, &img);
	if (r == 0)
		r = vm_mem_remap(vm, s->mem, false);
	if (r == 0)
		r = snap_apply(vm, &img);
	snap_image_free(&img);
	return r;
}

int snap_restore(struct vm *vm, struct snap *s)
{
	vm_pause(vm);
	return snap_restore_from(vm, s);
}


void snap_delete(struct snap *s)
{
	for (struct snap **p = &snap_head; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			snap_free(s);
			return;
		}
}

struct snap *snap_find(uint64_t id)
{
	for (struct snap *s = snap_head; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

size_t snap_list(struct vm *vm, struct snap **out, size_t max)
{
	size_t n = 0;
	for (struct snap *s = snap_head; s; s = s->next)
		if (s->vm == vm) {
			if (n < max)
				out[n] = s;
			n++;
		}
	return n;
}

uint64_t snap_id(const struct snap *s) { return s->id; }
const char *snap_name(const struct snap *s) { return s->name; }
struct vm *snap_vm(const struct snap *s) { return s->vm; }
size_t snap_state_size(const struct snap *s) { return s->state.len; }

void snap_drop_vm(struct vm *vm)
{
	for (struct snap **p = &snap_head; *p;) {
		struct snap *s = *p;
		if (s->vm == vm) {
			*p = s->next;
			snap_free(s);
		} else {
			p = &s->next;
		}
	}
}

/* ---- clones ---- */

struct clone_walk {
	struct dev_walk have;     /* the clone's devices */
	struct dev_walk parent;
};

/* Each parent device the new VM lacks (beyond the UART and debug-exit every
 * VM is born with) is copied through its clone hook. */
static int clone_devices(struct vm *parent, struct vm *child)
{
	struct clone_walk w = { { 0 }, { 0 } };
	bus_for_each_device(parent->bus, snap_collect_dev, &w.parent);
	bus_for_each_device(child->bus, snap_collect_dev, &w.have);
	int r = 0;
	for (size_t i = 0; r == 0 && i < w.parent.n; i++) {
		struct device *d = w.parent.devs[i];
		unsigned k = 0;
		for (size_t j = 0; j < i; j++)
			k += strcmp(w.parent.devs[j]->name, d->name) == 0;
		if (!snap_nth_device(&w.have, d->name, k) && d->clone)
			r = d->clone(d, child->bus, &child->host);
	}
	free(w.parent.devs);
	free(w.have.devs);
	return r;
}

static void copy_symbols(struct vm *from, struct vm *to)
{
	size_t n = sym_count(from->syms);
	for (size_t i = 0; i < n; i++) {
		uint64_t addr;
		const char *name = sym_name_at(from->syms, i, &addr);
		if (name)
			sym_add(to->syms, name, addr, 0);
	}
}

int snap_clone(struct vm *vm, const char *name, struct vm **out)
{
	struct snap_buf b = { 0 };
	struct membase *base = NULL;
	bool held = snap_hold(vm);
	int r = snap_capture(vm, &b);
	if (r == 0)
		r = snap_mem_freeze(vm, &base);
	snap_release(vm, held);
	struct image img;
	struct snap_reader rd = { b.data, b.len, 0, 0 };
	memset(&img, 0, sizeof(img));
	if (r == 0)
		r = snap_parse_image(&rd, &img, false);
	struct vm_config cfg = { .name = name, .mem_size = vm->mem_size, .vcpus = vm->nvcpus,
				  .accel = vm->accel->name };
	struct vm *c = NULL;
	if (r == 0)
		r = vm_create(&cfg, &c);
	if (r == 0 && vm->cpuid_hidden && (r = vm_cpuid_hide(c, vm->cpuid_hidden)) < 0)
		vm_destroy(c);
	if (r == 0) {
		r = vm_mem_remap(c, base, false);
		if (r == 0)
			r = clone_devices(vm, c);
		if (r == 0)
			r = snap_apply(c, &img);
		if (r == 0)
			copy_symbols(vm, c);
		if (r < 0)
			vm_destroy(c);
	}
	snap_image_free(&img);
	membase_put(base);
	snap_buf_free(&b);
	if (r == 0)
		*out = c;
	return r;
}
