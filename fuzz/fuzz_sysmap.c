/* fuzz_sysmap: symbol files as sym_load_file reads them: a System.map
 * ("ffffffff81000000 T _text" lines) or, when it starts with the ELF magic, an
 * ELF symbol table through libelf. The readers take a path, so the input is
 * put in a memfd and read through /proc/self/fd/N. Then lookups and
 * "name+offset" resolution on what was loaded, with names from the input. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/debug/symbols.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fd < 0) {
		fd = memfd_create("fuzz_sysmap", 0);
		if (fd < 0)
			return 0;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	struct symtab *t = sym_create();
	if (!t)
		return 0;
	int n = size && data[0] == 'm' ? sym_load_sysmap(t, path) : sym_load_file(t, path);
	if (n > 0) {
		uint64_t addr, off;
		size_t cnt = sym_count(t);
		for (size_t i = 0; i < cnt && i < 64; i++) {
			const char *name = sym_name_at(t, i, &addr);
			if (!name)
				continue;
			sym_lookup(t, addr, &off);
			char expr[80];
			snprintf(expr, sizeof(expr), "%.60s+0x%zx", name, i);
			sym_resolve(t, expr, &addr);
			snprintf(expr, sizeof(expr), "%.60s+%zu", name, i);
			sym_resolve(t, expr, &addr);
		}
	}
	/* the last line of the input as an expression */
	char expr[128];
	size_t k = size < sizeof(expr) - 1 ? size : sizeof(expr) - 1;
	memcpy(expr, data + size - k, k);
	expr[k] = '\0';
	uint64_t a;
	sym_resolve(t, expr, &a);
	sym_destroy(t);
	return 0;
}
