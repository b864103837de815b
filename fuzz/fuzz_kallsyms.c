/* fuzz_kallsyms: sym_load_kallsyms on a buffer, as if it were a kernel image
 * (the token table, markers, names and offsets are all found by scanning it),
 * then lookups in the symbols it added. */
#include <stdint.h>

#include "engine/debug/symbols.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct symtab *t = sym_create();
	if (!t)
		return 0;
	if (sym_load_kallsyms(t, data, size) > 0) {
		uint64_t addr, off;
		size_t n = sym_count(t);
		for (size_t i = 0; i < n && i < 64; i++) {
			const char *name = sym_name_at(t, i, &addr);
			if (name) {
				sym_lookup(t, addr + 1, &off);
				sym_resolve(t, name, &addr);
			}
		}
	}
	sym_destroy(t);
	return 0;
}
