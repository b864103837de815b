/* mmu: guest virtual -> physical translation by walking the guest's own page
 * tables, in every x86 paging mode, keeping each level of the walk so it can
 * be shown to a person (the teaching view), plus virtual reads and writes
 * that cross pages. The walk itself only needs the control registers and a
 * way to read guest-physical memory (struct mmu_ctx), so tests can run it on
 * page tables built in a buffer; the mmu_*_virt functions fill that in from
 * a stopped VM. Addresses given here are linear addresses (segment base
 * already added): with paging off, linear = physical. */
#ifndef HVWB_MMU_H
#define HVWB_MMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;

enum mmu_mode {
	MMU_NONE,    /* CR0.PG = 0: real mode or unpaged protected mode */
	MMU_32,      /* 32-bit two-level paging (4 KiB, 4 MiB with CR4.PSE) */
	MMU_PAE,     /* 32-bit PAE: PDPT, PD, PT */
	MMU_LONG4,   /* IA-32e 4-level */
	MMU_LONG5,   /* IA-32e 5-level (CR4.LA57) */
};

/* Decoded entry bits. */
enum {
	MMU_F_P = 1u << 0, MMU_F_RW = 1u << 1, MMU_F_US = 1u << 2, MMU_F_PWT = 1u << 3,
	MMU_F_PCD = 1u << 4, MMU_F_A = 1u << 5, MMU_F_D = 1u << 6, MMU_F_PS = 1u << 7,
	MMU_F_G = 1u << 8, MMU_F_NX = 1u << 9,
};

#define MMU_MAX_LEVELS 5

struct mmu_level {
	const char *name;     /* "PML5", "PML4", "PDPT", "PD", "PT" */
	uint64_t table;       /* guest-physical address of the table */
	unsigned index;       /* entry index in the table */
	uint64_t entry_addr;  /* guest-physical address of the entry */
	uint64_t entry;       /* the entry's value (4 or 8 bytes) */
	unsigned flags;       /* MMU_F_* */
	bool leaf;            /* this entry maps the page */
};

struct mmu_walk {
	uint64_t va;            /* the linear address asked for */
	enum mmu_mode mode;
	int nlevels;            /* levels read, including a failing one */
	struct mmu_level level[MMU_MAX_LEVELS];
	bool mapped;
	int fail_level;         /* index in level[] of the entry that stopped the
				   walk, -1 if it did not get that far (or mapped) */
	char reason[160];       /* why it is unmapped, for people */
	uint64_t pa;            /* mapped: the physical address */
	uint64_t page_size;     /* mapped: 4 KiB, 2/4 MiB, 1 GiB, or 0 with paging off */
	bool writable, user, nx; /* rights combined over the levels */
};

struct mmu_ctx {
	uint64_t cr0, cr3, cr4, efer;
	/* Reads guest-physical memory: 0 or -errno (with err_set). */
	int (*read_phys)(void *opaque, uint64_t pa, void *buf, size_t len);
	int (*write_phys)(void *opaque, uint64_t pa, const void *buf, size_t len);
	void *opaque;
};

enum mmu_mode mmu_mode_of(const struct mmu_ctx *ctx);
const char *mmu_mode_name(enum mmu_mode mode);
/* "P RW US A PS" style text of MMU_F_* bits. */
void mmu_flags_str(unsigned flags, char *buf, size_t cap);

/* Walks the tables for va. 0 when mapped; -EFAULT when not (walk->reason,
 * walk->fail_level and err_msg say where); the walk is filled either way. */
int mmu_walk_va(const struct mmu_ctx *ctx, uint64_t va, struct mmu_walk *walk);
/* Virtual reads and writes, page by page. A write translates every page
 * before it writes one, so a write that would fault changes nothing. The
 * debugger writes like a debugger: read-only pages are written too. */
int mmu_read(const struct mmu_ctx *ctx, uint64_t va, void *buf, size_t len);
int mmu_write(const struct mmu_ctx *ctx, uint64_t va, const void *buf, size_t len);

/* The context that a stopped vCPU's registers give (no ioctl). */
struct kvm_sregs;
void mmu_sregs_ctx(struct vm *vm, const struct kvm_sregs *s, struct mmu_ctx *ctx);
/* The same for a stopped VM's vCPU (-EBUSY while it runs). */
int mmu_vm_ctx(struct vm *vm, int vcpu, struct mmu_ctx *ctx);
int mmu_translate(struct vm *vm, int vcpu, uint64_t va, struct mmu_walk *walk);
int mmu_read_virt(struct vm *vm, int vcpu, uint64_t va, void *buf, size_t len);
int mmu_write_virt(struct vm *vm, int vcpu, uint64_t va, const void *buf, size_t len);
/* Linear address of seg:off using the segment's cached base ("cs", "ds",
 * "es", "fs", "gs", "ss"); in real mode the base is selector * 16. */
int mmu_seg_linear(struct vm *vm, int vcpu, const char *seg, uint64_t off, uint64_t *linear);

#endif
