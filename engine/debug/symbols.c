/* symbols: guest symbol tables for turning addresses into "name+0x12" and back.
 * A Linux System.map has ~150,000 entries and the dashboard looks up an address
 * on every refresh, so the table is an array sorted by address (binary search)
 * with a second index sorted by name. Adding only appends; sorting happens once,
 * lazily, before the next query, and the load functions sort before returning so
 * that queries after a load do not modify the table. */
#include "engine/debug/symbols.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/debug/elfsyms.h"
#include "util/err.h"

struct sym {
	char *name;
	uint64_t addr;
	uint64_t size;   /* 0: unknown, the symbol reaches up to the next one */
};

struct symtab {
	struct sym *v;
	size_t n, cap;
	bool sorted;
	const struct sym **by_name;  /* valid when sorted */
};

struct symtab *sym_create(void)
{
	struct symtab *tab = calloc(1, sizeof(*tab));
	if (tab)
		tab->sorted = true;
	return tab;
}

void sym_destroy(struct symtab *tab)
{
	if (!tab)
		return;
	for (size_t i = 0; i < tab->n; i++)
		free(tab->v[i].name);
	free(tab->v);
	free(tab->by_name);
	free(tab);
}

int sym_add(struct symtab *tab, const char *name, uint64_t addr, uint64_t size)
{
	if (!tab || !name || !*name)
		return err_set(-EINVAL, "symbol needs a table and a non-empty name");
	if (tab->n == tab->cap) {
		size_t cap = tab->cap ? tab->cap * 2 : 256;
		struct sym *v = realloc(tab->v, cap * sizeof(*v));
		if (!v)
			return err_set(-ENOMEM, "out of memory for %zu symbols", cap);
		tab->v = v;
		tab->cap = cap;
	}
	char *copy = strdup(name);
	if (!copy)
		return err_set(-ENOMEM, "out of memory for symbol %s", name);
	tab->v[tab->n++] = (struct sym){ copy, addr, size };
	tab->sorted = false;
	return 0;
}

/* Address order; at one address, by name, and the larger size first so that
 * dropping exact duplicates keeps the most informative entry. */
static int cmp_addr(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->size > y->size ? -1 : x->size < y->size;
}

static int cmp_name(const void *a, const void *b)
{
	const struct sym *x = *(const struct sym *const *)a, *y = *(const struct sym *const *)b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static void drop_duplicates(struct symtab *tab)
{
	size_t out = 0;
	for (size_t i = 0; i < tab->n; i++) {
		if (out > 0 && tab->v[out - 1].addr == tab->v[i].addr &&
		    strcmp(tab->v[out - 1].name, tab->v[i].name) == 0) {
			free(tab->v[i].name);
			continue;
		}
		tab->v[out++] = tab->v[i];
	}
	tab->n = out;
}

/* Returns false only when the name index cannot be allocated; address order
 * is still valid then and name lookups fail with ENOMEM. */
static bool ensure_sorted(struct symtab *tab)
{
	if (tab->sorted)
		return tab->by_name != NULL || tab->n == 0;
	qsort(tab->v, tab->n, sizeof(*tab->v), cmp_addr);
	drop_duplicates(tab);
	free(tab->by_name);
	tab->by_name = malloc((tab->n ? tab->n : 1) * sizeof(*tab->by_name));
	tab->sorted = true;
	if (!tab->by_name)
		return false;
	for (size_t i = 0; i < tab->n; i++)
		tab->by_name[i] = &tab->v[i];
	qsort(tab->by_name, tab->n, sizeof(*tab->by_name), cmp_name);
	return true;
}

int sym_merge(struct symtab *dst, const struct symtab *src)
{
	for (size_t i = 0; i < src->n; i++) {
		int rc = sym_add(dst, src->v[i].name, src->v[i].addr, src->v[i].size);
		if (rc < 0)
			return rc;
	}
	ensure_sorted(dst);
	return 0;
}

/* --- ELF ------------------------------------------------------------------ */

static Elf_Scn *find_symtab(Elf *elf, GElf_Shdr *shdr)
{
	Elf_Scn *scn = NULL, *dyn = NULL;
	GElf_Shdr sh, dynsh;

	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_SYMTAB) {
			*shdr = sh;
			return scn;
		}
		if (sh.sh_type == SHT_DYNSYM && !dyn) {
			dyn = scn;
			dynsh = sh;
		}
	}
	if (dyn)
		*shdr = dynsh;
	return dyn;
}

static bool wanted(const GElf_Sym *s)
{
	int type = GELF_ST_TYPE(s->st_info);
	if (type != STT_FUNC && type != STT_OBJECT && type != STT_NOTYPE)
		return false;
	return s->st_shndx != SHN_UNDEF && s->st_value != 0 && s->st_name != 0;
}

int sym_add_elf(struct symtab *tab, Elf *elf)
{
	GElf_Shdr shdr;
	Elf_Scn *scn = find_symtab(elf, &shdr);
	if (!scn)
		return 0;   /* stripped: not an error */
	Elf_Data *data = elf_getdata(scn, NULL);
	if (!data)
		return err_set(-EINVAL, "cannot read the symbol table: %s", elf_errmsg(-1));
	size_t entsize = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);
	size_t count = entsize ? data->d_size / entsize : 0;
	int added = 0;

	for (size_t i = 0; i < count; i++) {
		GElf_Sym s;
		if (!gelf_getsym(data, (int)i, &s) || !wanted(&s))
			continue;
		const char *name = elf_strptr(elf, shdr.sh_link, s.st_name);
		if (!name || !*name)
			continue;
		uint64_t size = GELF_ST_TYPE(s.st_info) == STT_NOTYPE ? 0 : s.st_size;
		int rc = sym_add(tab, name, s.st_value, size);
		if (rc < 0)
			return rc;
		added++;
	}
	ensure_sorted(tab);
	return added;
}

int sym_load_elf(struct symtab *tab, const char *path)
{
	if (!tab || !path)
		return err_set(-EINVAL, "sym_load_elf: missing argument");
	if (elf_version(EV_CURRENT) == EV_NONE)
		return err_set(-EINVAL, "libelf is too old: %s", elf_errmsg(-1));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		return err_set(-e, "%s: %s", path, strerror(e));
	}
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
	int rc;
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		rc = err_set(-EINVAL, "%s: not an ELF file", path);
	} else {
		rc = sym_add_elf(tab, elf);
		if (rc < 0)
			err_wrap(rc, "%s", path);
	}
	elf_end(elf);
	close(fd);
	return rc;
}

/* --- System.map ------------------------------------------------------------ */

/* One "ffffffff81000000 T _text" line. Undefined and absolute entries are not
 * places in the guest, so they are skipped like malformed lines. */
static bool parse_map_line(char *line, uint64_t *addr, char **name)
{
	char *end, *type, *save = NULL;
	char *a = strtok_r(line, " \t\r\n", &save);
	if (!a || !isxdigit((unsigned char)*a))
		return false;
	errno = 0;
	unsigned long long v = strtoull(a, &end, 16);
	if (*end || errno)
		return false;
	type = strtok_r(NULL, " \t\r\n", &save);
	*name = strtok_r(NULL, " \t\r\n", &save);
	if (!type || type[1] || !*name || strchr("UuAa", *type) || v == 0)
		return false;
	*addr = v;
	return true;
}

int sym_load_sysmap(struct symtab *tab, const char *path)
{
	if (!tab || !path)
		return err_set(-EINVAL, "sym_load_sysmap: missing argument");
	FILE *f = fopen(path, "re");
	if (!f) {
		int e = errno;
		return err_set(-e, "%s: %s", path, strerror(e));
	}
	char *line = NULL;
	size_t cap = 0;
	int added = 0, rc = 0;
	while (getline(&line, &cap, f) >= 0) {
		uint64_t addr;
		char *name;
		if (!parse_map_line(line, &addr, &name))
			continue;
		rc = sym_add(tab, name, addr, 0);
		if (rc < 0)
			break;
		added++;
	}
	free(line);
	fclose(f);
	if (rc < 0)
		return rc;
	if (added == 0)
		return err_set(-EINVAL, "%s: no symbols found (expected \"address type name\" lines)", path);
	ensure_sorted(tab);
	return added;
}

int sym_load_file(struct symtab *tab, const char *path)
{
	char magic[4] = { 0 };
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return err_set(-EISDIR, "%s is a directory, not a symbol file (System.map or ELF)", path);
	FILE *f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		return err_set(-e, "%s: %s", path, strerror(e));
	}
	size_t n = fread(magic, 1, sizeof(magic), f);
	fclose(f);
	if (n == sizeof(magic) && memcmp(magic, "\177ELF", 4) == 0)
		return sym_load_elf(tab, path);
	return sym_load_sysmap(tab, path);
}

/* --- queries ---------------------------------------------------------------- */

const char *sym_lookup(struct symtab *tab, uint64_t addr, uint64_t *offset)
{
	if (!tab || tab->n == 0)
		return NULL;
	ensure_sorted(tab);
	size_t lo = 0, hi = tab->n;   /* first index with v[i].addr > addr */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (tab->v[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	size_t first = lo - 1;
	uint64_t base = tab->v[first].addr;
	while (first > 0 && tab->v[first - 1].addr == base)
		first--;
	/* Several names at one address: a sized symbol that covers addr wins,
	 * else one without a size (it reaches up to the next symbol). */
	const struct sym *hit = NULL;
	for (size_t i = first; i < lo; i++) {
		const struct sym *s = &tab->v[i];
		if (s->size && addr - base < s->size) {
			hit = s;
			break;
		}
		if (!s->size && !hit)
			hit = s;
	}
	if (hit && offset)
		*offset = addr - base;
	return hit ? hit->name : NULL;
}

static int parse_number(const char *s, uint64_t *out)
{
	char *end;
	int base = 10;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!isxdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, base);
	if (*end || errno)
		return -EINVAL;
	*out = v;
	return 0;
}

static const struct sym *find_name(struct symtab *tab, const char *name)
{
	if (!tab || tab->n == 0 || !ensure_sorted(tab))
		return NULL;
	size_t lo = 0, hi = tab->n;   /* first with name >= wanted */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(tab->by_name[mid]->name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < tab->n && strcmp(tab->by_name[lo]->name, name) == 0)
		return tab->by_name[lo];
	return NULL;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

int sym_resolve(struct symtab *tab, const char *expr, uint64_t *addr)
{
	if (!expr || !addr)
		return err_set(-EINVAL, "sym_resolve: missing argument");
	char buf[256];
	if (strlen(expr) >= sizeof(buf))
		return err_set(-EINVAL, "symbol expression is too long");
	strcpy(buf, expr);
	uint64_t off = 0, base;
	char *plus = strrchr(buf, '+');
	if (plus) {
		*plus = 0;
		if (parse_number(trim(plus + 1), &off) < 0)
			return err_set(-EINVAL, "'%s': the offset after '+' is not a number", expr);
	}
	char *name = trim(buf);
	if (!*name)
		return err_set(-EINVAL, "'%s': no symbol name or address", expr);
	if (isdigit((unsigned char)*name)) {
		if (parse_number(name, &base) < 0)
			return err_set(-EINVAL, "'%s' is not a number (use 0x... for hex)", name);
	} else {
		const struct sym *s = find_name(tab, name);
		if (!s)
			return err_set(-ENOENT, "no symbol named '%s'", name);
		base = s->addr;
	}
	*addr = base + off;
	return 0;
}

size_t sym_count(const struct symtab *tab)
{
	if (!tab)
		return 0;
	/* Sorting is a cache: it drops duplicates, so counts match sym_name_at. */
	ensure_sorted((struct symtab *)tab);
	return tab->n;
}

const char *sym_name_at(const struct symtab *tab, size_t i, uint64_t *addr)
{
	if (!tab)
		return NULL;
	ensure_sorted((struct symtab *)tab);
	if (i >= tab->n)
		return NULL;
	if (addr)
		*addr = tab->v[i].addr;
	return tab->v[i].name;
}
