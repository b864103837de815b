/* loader_int: what the loader's format files (loader.c, loader_elf.c,
 * loader_multiboot.c) share. Each format first describes everything it would
 * write as a list of pieces; one function checks the whole list against guest
 * RAM and against itself, and only then is anything copied. */
#ifndef HVWB_LOADER_INT_H
#define HVWB_LOADER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/boot/loader.h"

struct loader_piece {
	uint64_t gpa;
	const uint8_t *src;     /* filesz bytes to copy; the rest up to memsz is zeroed */
	uint64_t filesz, memsz;
	char what[80];          /* "segment 2", "module 1 (initrd)": for messages */
};

struct loader_set {
	struct loader_piece *v;
	int n, cap;
};

int loader_set_add(struct loader_set *set, uint64_t gpa, const void *src, uint64_t filesz,
		   uint64_t memsz, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void loader_set_free(struct loader_set *set);
/* Every piece inside RAM, no two overlapping, and (if asked) none in the boot area. */
int loader_set_check(const struct guest_ram *ram, const struct loader_set *set, bool avoid_boot);
void loader_set_write(struct guest_ram *ram, const struct loader_set *set);
/* Lowest start and highest (exclusive) end of the first n pieces. */
void loader_set_extent(const struct loader_set *set, int n, uint64_t *lo, uint64_t *hi);

/* "64 MiB", "1536 KiB", "1000 bytes". */
const char *loader_size_str(uint64_t size, char *buf, size_t n);
/* Reads a whole file, refusing one larger than max before reading it all. */
int loader_read_file(const char *path, uint64_t max, uint8_t **buf, size_t *len);

/* What an ELF file holds, once checked: its PT_LOAD pieces go to set. */
struct loader_elf_info {
	int elfclass;           /* ELFCLASS32 or ELFCLASS64 */
	uint64_t entry;         /* physical */
	struct symtab *syms;    /* read when asked, merged after the write; or NULL */
};
int loader_elf_parse(const uint8_t *buf, size_t len, bool want_syms,
		     struct loader_set *set, struct loader_elf_info *info);
/* Writes the set, then merges info->syms into syms; frees info->syms. */
int loader_finish(struct guest_ram *ram, const struct loader_set *set,
		  struct loader_elf_info *info, struct symtab *syms);

int loader_elf(struct guest_ram *ram, const uint8_t *buf, size_t len,
	       const struct load_opts *opts, struct boot_plan *plan, struct symtab *syms);
/* Offset of a multiboot header in the first 8 KiB, or -1. */
long loader_multiboot_find(const uint8_t *buf, size_t len);
int loader_multiboot(struct guest_ram *ram, const uint8_t *buf, size_t len, const char *name,
		     const struct load_opts *opts, struct boot_plan *plan, struct symtab *syms);

#endif
