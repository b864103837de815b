/* symbols: a table of guest symbols (name, address, size) read from ELF symbol
 * tables or System.map files, for address <-> name+offset lookups. */
#ifndef HVWB_SYMBOLS_H
#define HVWB_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

struct symtab;

struct symtab *sym_create(void);
void sym_destroy(struct symtab *tab);

int sym_add(struct symtab *tab, const char *name, uint64_t addr, uint64_t size);
/* Adds the function and object symbols of an ELF file (libelf). Returns the
 * number added (>= 0) or -errno with err_msg. */
int sym_load_elf(struct symtab *tab, const char *path);
/* Adds the symbols of a System.map ("ffffffff81000000 T _text" lines). */
int sym_load_sysmap(struct symtab *tab, const char *path);
/* Either of the two, by the file's first bytes. */
int sym_load_file(struct symtab *tab, const char *path);

/* Adds the symbols a Linux kernel image (vmlinux, stripped or not) carries in
 * its kallsyms tables (kallsyms.c). Returns the number added or -errno. */
int sym_load_kallsyms(struct symtab *tab, const void *image, size_t len);

/* The symbol at or below addr (within its size when known); NULL if none.
 * *offset receives addr - symbol address. */
const char *sym_lookup(struct symtab *tab, uint64_t addr, uint64_t *offset);
/* Finds a name; "name+0x10" and "name+16" are accepted. 0 or -ENOENT. */
int sym_resolve(struct symtab *tab, const char *expr, uint64_t *addr);
size_t sym_count(const struct symtab *tab);
/* The i-th symbol in address order (for completion and listings). */
const char *sym_name_at(const struct symtab *tab, size_t i, uint64_t *addr);

#endif
