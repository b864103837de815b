/* snapshot: whole-VM state captured in memory (snapshots), written to and read
 * from files, and copied into new VMs that share guest RAM copy-on-write
 * (clones). Every call is made from the main thread; a running VM is paused
 * for the moment the state is taken and resumed afterwards. The file format is
 * described in docs/snapshot-format.md, the memory design in docs/clones.md. */
#ifndef HVWB_SNAPSHOT_H
#define HVWB_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct snap;

/* --- snapshots in memory --- */

/* Captures the VM (name may be NULL: "snapN"). The snapshot belongs to the VM
 * and goes away with it. */
int snap_take(struct vm *vm, const char *name, struct snap **out);
/* Puts the VM back into the snapshot's state. A running VM is paused first and
 * is left in the state the snapshot recorded (paused, halted, created ...). */
int snap_restore(struct vm *vm, struct snap *s);
void snap_delete(struct snap *s);
/* The snapshot with this id, if it still exists (ids are never reused). */
struct snap *snap_find(uint64_t id);
/* Snapshots of a VM, oldest first; returns the count (may exceed max). */
size_t snap_list(struct vm *vm, struct snap **out, size_t max);
uint64_t snap_id(const struct snap *s);
const char *snap_name(const struct snap *s);
struct vm *snap_vm(const struct snap *s);
/* Bytes of device and CPU state the snapshot holds (its RAM is shared). */
size_t snap_state_size(const struct snap *s);
/* Bytes of guest RAM the VM has written since its last snapshot or clone
 * (reads /proc/self/pagemap: 8 bytes per page of RAM); -ENOENT with a message
 * when it never had one (its RAM is then its own, all of it "dirty"). */
int snap_mem_dirty(struct vm *vm, uint64_t *bytes);
/* Called by vm_destroy: forgets every snapshot of the VM. */
void snap_drop_vm(struct vm *vm);

/* --- files --- */

/* Writes the VM to path atomically: a reader sees the old file or the new one. */
int snap_save(struct vm *vm, const char *path);
/* Creates a new VM (name NULL: the name in the file, or vmN if taken) from a
 * file, on accelerator `accel` (NULL: the default; a snapshot restores on
 * either accelerator, whichever wrote it). */
int snap_load(const char *path, const char *name, const char *accel, struct vm **out);
/* Restores an existing VM from a file; the file must match its memory size and
 * vCPU count. A bad file changes nothing. */
int snap_restore_file(struct vm *vm, const char *path);

/* --- clones --- */

/* A new VM in the same state, its RAM shared copy-on-write with vm's. */
int snap_clone(struct vm *vm, const char *name, struct vm **out);

/* --- guest RAM (clone.c), for snapshot.c --- */

struct membase;
uint64_t *snap_bitmap_new(uint64_t npages);
/* Marks the pages of guest RAM that may hold data (the others read as zero). */
int snap_mem_pages(struct vm *vm, uint64_t *bitmap);
bool snap_page_is_zero(const uint8_t *page);
/* Makes the VM's RAM as it is now a base nobody writes and returns a
 * reference to it; the VM goes on copy-on-write over it. */
int snap_mem_freeze(struct vm *vm, struct membase **out);

/* --- the format's building blocks (snapfile.c), for snapshot.c and tests --- */

#define SNAP_MAGIC "HVWBSNAP"
#define SNAP_VERSION 1u
#define SNAP_FILE_HEADER 16u    /* magic, u32 version, u32 header size */
#define SNAP_SECTION_HEADER 24u /* u32 type, u32 flags, u64 length, u32 crc, u32 header crc */

enum snap_section_type {
	SNAP_SEC_VM = 1, SNAP_SEC_VCPU = 2, SNAP_SEC_PLATFORM = 3, SNAP_SEC_DEVICES = 4,
	SNAP_SEC_MEMORY = 5, SNAP_SEC_END = 6,
};

/* CRC-32C (Castagnoli), with the SSE4.2 instruction when the CPU has it. */
uint32_t snap_crc32c(uint32_t crc, const void *data, size_t len);
uint32_t snap_crc32c_portable(uint32_t crc, const void *data, size_t len);

/* A growing byte buffer; a failed allocation sets err and later puts do nothing. */
struct snap_buf {
	uint8_t *data;
	size_t len, cap;
	int err;
};
void snap_buf_put(struct snap_buf *b, const void *p, size_t n);
void snap_buf_u32(struct snap_buf *b, uint32_t v);
void snap_buf_u64(struct snap_buf *b, uint64_t v);
void snap_buf_str(struct snap_buf *b, const char *s);
/* Starts a section (returns where its header is) and completes its header. */
size_t snap_section_begin(struct snap_buf *b, uint32_t type);
void snap_section_end(struct snap_buf *b, size_t at);
void snap_section_header(uint8_t out[SNAP_SECTION_HEADER], uint32_t type, uint64_t len, uint32_t crc);
void snap_buf_free(struct snap_buf *b);

/* Bounds-checked reading; the first overrun sets err and every later get returns 0. */
struct snap_reader {
	const uint8_t *p;
	size_t len, pos;
	int err;
};
uint32_t snap_get_u32(struct snap_reader *r);
uint64_t snap_get_u64(struct snap_reader *r);
const void *snap_get_bytes(struct snap_reader *r, size_t n);
/* A string of at most max-1 bytes into out; sets err if longer. */
void snap_get_str(struct snap_reader *r, char *out, size_t max);

struct snap_section {
	uint32_t type;
	const uint8_t *data;
	uint64_t len;
	size_t offset;          /* of its header, for messages */
};
/* The next section of r: 1, 0 at the end of the input, or -EINVAL with a
 * message when a header or a checksum is wrong or the input is cut short. */
int snap_next_section(struct snap_reader *r, struct snap_section *s);
/* Checks magic and version of a whole file in memory; r then points past the header. */
int snap_file_open(const uint8_t *p, size_t len, struct snap_reader *r);

/* Writing a file atomically: an unnamed file (O_TMPFILE) in path's directory,
 * then fsync, a link to a temp name, rename over path, fsync of the directory;
 * where the file system has no O_TMPFILE, a named temp file "<path>.tmpXXXXXX"
 * from the start. Either way the writer holds an flock on it, and every open
 * removes the unlocked "<path>.tmpXXXXXX" files that killed saves left.
 * snap_out_open refuses a path that exists and is not a regular file. */
struct snap_out {
	int fd;
	char *path, *tmp;
	bool tmp_named;         /* tmp exists in the directory (abort unlinks it) */
	uint8_t *buf;
	size_t used;
	uint64_t off;
	uint32_t crc;           /* running CRC of what snap_out_write wrote since snap_out_crc_reset */
};
int snap_out_open(struct snap_out *o, const char *path);
int snap_out_write(struct snap_out *o, const void *p, size_t n);
void snap_out_crc_reset(struct snap_out *o);
/* Overwrites bytes already written (section headers written before their CRC was known). */
int snap_out_patch(struct snap_out *o, uint64_t off, const void *p, size_t n);
int snap_out_commit(struct snap_out *o);
void snap_out_abort(struct snap_out *o);

#endif
