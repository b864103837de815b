/* snap_image: what the in-memory snapshots (snapshot.c), the snapshot files
 * (snap_files.c) and clones share: pausing a VM for the moment, capturing its
 * state as sections, and parsing and applying an image of it. Private to
 * engine/state/. */
#ifndef HVWB_SNAP_IMAGE_H
#define HVWB_SNAP_IMAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/core/vm_internal.h"
#include "engine/state/snap_cpu.h"
#include "engine/state/snapshot.h"

#define PAGE 4096u

struct snap {
	uint64_t id;
	char name[64];
	struct vm *vm;
	struct snap_buf state;     /* VM, VCPU..., PLATFORM, DEVICES sections */
	struct membase *mem;
	struct snap *next;
};

struct dev_walk {
	struct device **devs;
	size_t n, cap;
};

/* A snapshot image taken apart: pointers into its buffer or file. */
struct image {
	char name[64];
	uint64_t mem_size;
	uint32_t nvcpus;
	enum vm_state state;
	struct vm_stop stop;
	struct recs *vcpu;          /* nvcpus entries */
	struct recs platform;
	struct snap_section devices, memory;
	bool has_devices, has_memory;
};

/* Pauses a running VM for the moment the state is taken (true if it did). */
bool snap_hold(struct vm *vm);
void snap_release(struct vm *vm, bool held);
int snap_capture(struct vm *vm, struct snap_buf *b);
void snap_collect_dev(struct device *dev, void *arg);
struct device *snap_nth_device(const struct dev_walk *w, const char *name, unsigned k);
int snap_parse_image(struct snap_reader *r, struct image *img, bool file);
void snap_image_free(struct image *img);
int snap_apply(struct vm *vm, const struct image *img);
int snap_check_fits(struct vm *vm, const struct image *img);
void snap_free(struct snap *s);
int snap_take_state(struct vm *vm, struct snap *s);
int snap_restore_from(struct vm *vm, struct snap *s);

#endif
