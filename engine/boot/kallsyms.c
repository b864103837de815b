/* kallsyms: symbols read from a Linux kernel image's own symbol table, for
 * kernels whose System.map is not at hand (Debian ships a placeholder in /boot;
 * the real one is in a 850 MB -dbg package) and whose vmlinux is stripped, as
 * the one inside a bzImage is. The kernel keeps every symbol for its own use
 * (CONFIG_KALLSYMS_ALL): names compressed with a table of 256 tokens, and
 * addresses as 32-bit offsets from a base (CONFIG_KALLSYMS_BASE_RELATIVE).
 * Nothing labels these tables in a stripped image, so they are found by their
 * shape: the token index (256 rising 16-bit offsets into the token strings
 * just before it), then, searching back, a kernel address followed by the
 * symbol count, the compressed names and the markers that every 256th name
 * must agree with. This reads the layout of Linux up to 6.1 (offsets, base,
 * count, names, ..., tokens), which Debian 12's kernel has; see
 * scripts/kallsyms.c and kernel/kallsyms.c in the kernel sources. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/le.h"
#include "engine/debug/symbols.h"

#define MAX_SYMS 4000000u
#define SEARCH_BACK (48u << 20)
#define KERNEL_BASE_MIN 0xffffffff80000000ull

struct ksyms {
	const uint8_t *img;
	size_t len;
	size_t tokens, token_index;     /* offsets in img */
	size_t names, offsets;
	uint32_t count;
	uint64_t base;
};


/* Is there a token index at i, with its 256 strings ending just before it? */
static bool token_index_at(struct ksyms *k, size_t i)
{
	const uint8_t *p = k->img + i;
	if (le_get16(p) != 0 || le_get16(p + 2) < 2 || le_get16(p + 2) > 32)
		return false;
	for (int t = 1; t < 256; t++)
		if (le_get16(p + 2 * t) <= le_get16(p + 2 * (t - 1)))
			return false;
	size_t q = i;
	while (q > 0 && i - q < 8 && k->img[q - 1] == 0)  /* alignment, last NUL */
		q--;
	while (q > 0 && k->img[q - 1] != 0)                 /* the last token */
		q--;
	size_t last = le_get16(p + 510);
	if (q < last + 1)
		return false;
	size_t start = q - last;
	for (int t = 1; t < 256; t++)
		if (k->img[start + le_get16(p + 2 * t) - 1] != 0)
			return false;
	k->tokens = start;
	k->token_index = i;
	return true;
}

static bool find_tokens(struct ksyms *k)
{
	for (size_t i = 8; i + 512 <= k->len; i += 2)
		if (k->img[i] == 0 && k->img[i + 1] == 0 && token_index_at(k, i))
			return true;
	return false;
}

/* Skips one compressed name at *pos; false past `end`. */
static bool skip_name(const struct ksyms *k, size_t *pos, size_t end)
{
	size_t p = *pos;
	if (p + 2 > end)
		return false;
	size_t n = k->img[p++];
	if (n & 0x80)                    /* long names: 7 more bits in a second byte */
		n = (n & 0x7f) | (size_t)k->img[p++] << 7;
	if (n == 0 || p + n > end)
		return false;
	*pos = p + n;
	return true;
}

/* Names from `names` for `count` symbols end before the tokens, and the
 * markers after them give the offset of every 256th name. */
static bool names_fit(const struct ksyms *k, size_t names, uint32_t count)
{
	size_t p = names, end = k->tokens;
	uint32_t marker1 = 0;
	for (uint32_t i = 0; i < count; i++) {
		if (i == 256)
			marker1 = (uint32_t)(p - names);
		if (!skip_name(k, &p, end))
			return false;
	}
	size_t m = (p + 7) & ~(size_t)7;
	if (m + 8 > end || le_get32(k->img + m) != 0)
		return false;
	return count <= 256 || le_get32(k->img + m + 4) == marker1;
}

static bool find_names(struct ksyms *k)
{
	size_t lo = k->tokens > SEARCH_BACK ? k->tokens - SEARCH_BACK : 0;
	if (k->tokens < 16)
		return false; /* no room for the header before the tokens (fuzz_kallsyms) */
	for (size_t p = (k->tokens - 16) & ~(size_t)7; p > lo; p -= 8) {
		uint64_t base = le_get64(k->img + p);
		uint32_t count = le_get32(k->img + p + 8);
		if (base < KERNEL_BASE_MIN || count < 16 || count > MAX_SYMS ||
		    (size_t)count * 4 > p)
			continue;
		for (size_t names = p + 12; names <= p + 16; names += 4)
			if (names_fit(k, names, count)) {
				k->base = base;
				k->count = count;
				k->names = names;
				/* Every table starts 8-aligned: an odd count leaves 4 bytes before the base. */
				k->offsets = (p - (size_t)count * 4) & ~(size_t)7;
				return true;
			}
	}
	return false;
}

/* One name, expanded through the token table: type letter first. */
static size_t expand(const struct ksyms *k, size_t *pos, char *out, size_t cap)
{
	size_t p = *pos, n = k->img[p++], len = 0;
	if (n & 0x80)
		n = (n & 0x7f) | (size_t)k->img[p++] << 7;
	for (size_t i = 0; i < n; i++) {
		const char *tok = (const char *)k->img + k->tokens + le_get16(k->img + k->token_index +
									 2 * k->img[p + i]);
		for (; *tok && len + 1 < cap; tok++)
			out[len++] = *tok;
	}
	out[len] = '\0';
	*pos = p + n;
	return len;
}

/* With CONFIG_KALLSYMS_ABSOLUTE_PERCPU, non-negative offsets are absolute
 * (per-CPU symbols) and negative ones count down from the base. */
static uint64_t address(const struct ksyms *k, uint32_t i)
{
	int32_t off = (int32_t)le_get32(k->img + k->offsets + 4 * (size_t)i);
	return off >= 0 ? (uint64_t)off : k->base - 1 - (uint64_t)(int64_t)off;
}

static int add_all(struct symtab *tab, const struct ksyms *k)
{
	char name[600];
	size_t pos = k->names;
	int added = 0;
	for (uint32_t i = 0; i < k->count; i++) {
		size_t n = expand(k, &pos, name, sizeof(name));
		/* 'A': per-CPU offsets, not addresses; they would shadow low memory. */
		if (n < 2 || name[0] == 'A' || name[0] == 'a')
			continue;
		int r = sym_add(tab, name + 1, address(k, i), 0);
		if (r < 0)
			return r;
		added++;
	}
	return added;
}

int sym_load_kallsyms(struct symtab *tab, const void *image, size_t len)
{
	struct ksyms k = { .img = image, .len = len };
	if (!tab || !image)
		return err_set(-EINVAL, "sym_load_kallsyms: missing argument");
	if (!find_tokens(&k))
		return err_set(-ENOENT, "no kallsyms token table in the kernel image (built without "
			       "CONFIG_KALLSYMS?)");
	if (!find_names(&k))
		return err_set(-ENOENT, "the kernel image's kallsyms tables are not laid out as in "
			       "Linux 6.1 and older: give a System.map with symbols=");
	return add_all(tab, &k);
}
