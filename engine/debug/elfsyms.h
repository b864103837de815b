/* elfsyms: the internal link between the ELF loader and the symbol table, so a
 * program's symbols are read from the same libelf handle that loaded it. */
#ifndef HVWB_ELFSYMS_H
#define HVWB_ELFSYMS_H

#include <gelf.h>

#include "engine/debug/symbols.h"

/* Adds the named FUNC/OBJECT/NOTYPE symbols of .symtab (else .dynsym). Returns the
 * number added (0 for a stripped file) or -errno with err_msg. */
int sym_add_elf(struct symtab *tab, Elf *elf);

/* Adds every symbol of src to dst (sizes kept). 0 or -ENOMEM. */
int sym_merge(struct symtab *dst, const struct symtab *src);

#endif
