/* loader: puts a program into guest RAM and says how to enter it. Formats: raw
 * binaries (boot-sector style), ELF32/ELF64 through libelf, and multiboot v1
 * kernels. Every input is checked against guest RAM first: a bad file gets an
 * error naming the problem and nothing is written outside guest RAM. */
#ifndef HVWB_LOADER_H
#define HVWB_LOADER_H

#include <stdint.h>

#include "engine/boot/boot.h"
#include "engine/core/guestmem.h"
#include "engine/debug/symbols.h"

enum loader_format { LOAD_AUTO, LOAD_RAW, LOAD_ELF, LOAD_MULTIBOOT };

struct loader_module {          /* a multiboot module: a file and its string */
	const char *path;
	const char *string;
};

struct load_opts {
	enum loader_format format;  /* LOAD_AUTO: multiboot if the header is there, else
				       ELF if the magic is, else raw */
	uint64_t addr;              /* raw: load address (default 0x7c00 when 0) */
	int mode;                   /* -1: from the format (raw: real mode, ELF32:
				       protected, ELF64: long); or an enum cpu_mode */
	uint64_t entry;             /* raw: entry address (default: addr) */
	const char *cmdline;        /* multiboot command line (default: the path) */
	const struct loader_module *modules;
	int nmodules;
};

static inline void load_opts_init(struct load_opts *o)
{
	o->format = LOAD_AUTO;
	o->addr = 0;
	o->mode = -1;
	o->entry = 0;
	o->cmdline = 0;
	o->modules = 0;
	o->nmodules = 0;
}

/* Loads `path` into `ram` and fills `plan`. If `syms` is non-NULL, ELF symbols
 * are added to it. Returns 0 or -errno with err_msg. */
int loader_load(struct guest_ram *ram, const char *path, const struct load_opts *opts,
		struct boot_plan *plan, struct symtab *syms);

/* Same, from a buffer in host memory (used by tests and by the file variant). */
int loader_load_buffer(struct guest_ram *ram, const void *buf, size_t len, const char *name,
		       const struct load_opts *opts, struct boot_plan *plan, struct symtab *syms);

const char *loader_format_name(enum loader_format f);

#endif
