/*
 * mb32.c: a multiboot v1 kernel that reports what its loader told it: the magic, the
 * command line, the upper memory size and the number of memory-map entries, then leaves
 * through the debug-exit with EXIT_MB32 (0x20), or EXIT_MB32_BAD_MAGIC (0x3f) when EAX did
 * not hold the multiboot magic. Tests compare its output with the VMM's multiboot set-up.
 */
#include <stddef.h>
#include "guest.h"

#define MB_BOOTLOADER_MAGIC	0x2badb002
#define MB_INFO_MEMORY		(1u << 0)
#define MB_INFO_CMDLINE		(1u << 2)
#define MB_INFO_MEM_MAP		(1u << 6)
#define MMAP_MAX_ENTRIES	1024	/* a bound for a corrupt map, far above any real one */

/* The fields up to the memory map, as in the Multiboot 0.6.96 specification. */
struct multiboot_info {
	uint32_t flags;
	uint32_t mem_lower;		/* KiB below 1 MiB */
	uint32_t mem_upper;		/* KiB from 1 MiB to the first hole */
	uint32_t boot_device;
	uint32_t cmdline;		/* physical address of a C string */
	uint32_t mods_count;
	uint32_t mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length;		/* bytes */
	uint32_t mmap_addr;
};

/* Entries are variable-sized: `size` counts the bytes after itself. */
struct multiboot_mmap_entry {
	uint32_t size;
	uint64_t base_addr;
	uint64_t length;
	uint32_t type;
} __attribute__((packed));

void kmain(uint32_t magic, const struct multiboot_info *info);
unsigned long mmap_count(const struct multiboot_info *info);

unsigned long mmap_count(const struct multiboot_info *info)
{
	uintptr_t at = info->mmap_addr;
	uintptr_t end = at + info->mmap_length;
	unsigned long n = 0;

	while (at + sizeof(uint32_t) <= end && n < MMAP_MAX_ENTRIES) {
		const struct multiboot_mmap_entry *entry = (const void *)at;

		at += entry->size + sizeof(entry->size);
		n++;
	}
	return n;
}

void kmain(uint32_t magic, const struct multiboot_info *info)
{
	if (magic != MB_BOOTLOADER_MAGIC) {
		serial_puts("multiboot: bad magic ");
		serial_put_hex(magic);
		serial_puts("\n");
		debug_exit(EXIT_MB32_BAD_MAGIC);
	}
	serial_puts("multiboot: magic ok\n");

	serial_puts("cmdline: ");
	if (info->flags & MB_INFO_CMDLINE)
		serial_puts((const char *)(uintptr_t)info->cmdline);
	else
		serial_puts("(none)");
	serial_puts("\n");

	serial_puts("mem_upper: ");
	if (info->flags & MB_INFO_MEMORY) {
		serial_put_dec(info->mem_upper);
		serial_puts(" KiB\n");
	} else {
		serial_puts("unknown\n");
	}

	serial_puts("mmap: ");
	serial_put_dec(info->flags & MB_INFO_MEM_MAP ? mmap_count(info) : 0);
	serial_puts(" entries\n");

	debug_exit(EXIT_MB32);
}
