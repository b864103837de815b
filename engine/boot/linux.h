/* linux: loads a Linux kernel the way the x86 boot protocol describes
 * (Documentation/x86/boot.rst, zero-page.rst): a bzImage (protocol 2.06 or
 * later) or an uncompressed vmlinux ELF, a command line, an initrd, and the
 * zero page (struct boot_params) with an e820 memory map, entered through the
 * 64-bit boot protocol with RSI pointing at the zero page. Everything works on
 * buffers and a struct guest_ram, without KVM, so tests can take it apart. */
#ifndef HVWB_LINUX_H
#define HVWB_LINUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/boot/boot.h"
#include "engine/core/guestmem.h"
#include "engine/debug/symbols.h"

/* Guest-physical places of the zero page and the command line: just above the
 * boot area, below the EBDA, where no kernel is loaded. */
#define LINUX_PARAMS_ADDR  0x7000ull
#define LINUX_CMDLINE_ADDR 0x8000ull
#define LINUX_CMDLINE_MAX  0x7fffull    /* what fits below 0x10000 */

/* Offsets in struct boot_params (zero-page.rst) and in the setup header. */
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE  0x0c4
#define BP_EXT_CMD_LINE_PTR  0x0c8
#define BP_E820_ENTRIES      0x1e8
#define BP_HDR               0x1f1
#define BP_E820_TABLE        0x2d0
#define BP_E820_MAX          128
#define HDR_SETUP_SECTS      0x1f1
#define HDR_BOOT_FLAG        0x1fe
#define HDR_MAGIC            0x202
#define HDR_VERSION          0x206
#define HDR_KERNEL_VERSION   0x20e
#define HDR_TYPE_OF_LOADER   0x210
#define HDR_LOADFLAGS        0x211
#define HDR_RAMDISK_IMAGE    0x218
#define HDR_RAMDISK_SIZE     0x21c
#define HDR_CMD_LINE_PTR     0x228
#define HDR_END              0x290   /* the zero page's header field ends here */

#define E820_RAM      1
#define E820_RESERVED 2

struct linux_header {              /* the setup header fields we use */
	uint16_t version;
	uint8_t setup_sects, loadflags, relocatable;
	uint16_t xloadflags;
	uint32_t syssize, kernel_alignment, cmdline_size, initrd_addr_max, init_size;
	uint32_t payload_offset, payload_length;
	uint64_t pref_address;
	size_t pm_offset;              /* protected-mode kernel: file offset ... */
	size_t pm_size;                /* ... and length */
	size_t hdr_len;                /* header bytes from 0x1f1, for the zero page */
	char kernel_version[80];       /* first word of the version string, or "" */
};

struct e820_entry {
	uint64_t addr, size;
	uint32_t type;
};

enum linux_how {
	LINUX_AUTO,     /* vmlinux extracted on the host when the payload allows it */
	LINUX_VMLINUX,  /* extract the ELF from the payload (xz), enter it at startup_64 */
	LINUX_BZIMAGE,  /* the bzImage's own decompressor (slow where ring 0 is emulated) */
};

struct linux_opts {
	const char *cmdline;            /* NULL: empty */
	const uint8_t *initrd;          /* NULL: none */
	size_t initrd_len;
	enum linux_how how;
	uint64_t high_size;             /* guest RAM above 4 GiB, for the e820 map */
};

struct linux_info {
	uint16_t version;               /* boot protocol; 0 for a bare vmlinux */
	bool guest_decompresses;        /* entered in the bzImage's decompressor */
	char kernel_version[80];
	uint64_t kernel_lo, kernel_hi;  /* guest-physical extent the kernel needs */
	uint64_t initrd_addr, initrd_size;
	int nsyms;                      /* kallsyms or ELF symbols added */
	char symbols_note[240];         /* why the symbols are not what symbols= named, or "" */
};

/* Parses and checks a bzImage's setup header: -ENOEXEC with a message when the
 * file is not one, -EINVAL when it is too old or truncated. */
int linux_parse_header(const uint8_t *buf, size_t len, struct linux_header *h);
/* Decompresses an xz payload (the bzImage's vmlinux) into a malloc'd buffer. */
int linux_xz_extract(const uint8_t *payload, size_t len, uint8_t **out, size_t *outlen);
/* The e820 map of a VM with `low` bytes at 0 and `high` at 4 GiB; returns the count. */
int linux_e820(uint64_t low, uint64_t high, struct e820_entry *out, int max);
/* Where an initrd of `size` bytes goes: page aligned, as high as possible below
 * min(limit, RAM end) and above the kernel. 0, or -E2BIG with a message. */
int linux_place_initrd(uint64_t ram_end, uint64_t limit, uint64_t kernel_hi, uint64_t size,
		       uint64_t *addr);

/* Loads the kernel (bzImage or ELF) into ram and fills plan (64-bit entry,
 * RSI = zero page). If syms is non-NULL, the kernel's own symbols (ELF symbol
 * table, else kallsyms) are added. Nothing is written when it fails. */
int linux_load_buffer(struct guest_ram *ram, const uint8_t *kernel, size_t len,
		      const struct linux_opts *opts, struct boot_plan *plan,
		      struct symtab *syms, struct linux_info *info);

#endif
