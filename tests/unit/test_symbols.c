/* test_symbols: symbol tables from an ELF built here byte by byte (with the
 * symbol kinds that must be skipped), from a System.map, and from the loader;
 * address -> name+offset rules (sizes, unsized labels, gaps), name+offset
 * resolution, and the speed of lookups in a kernel-sized table. */
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"
#include "engine/boot/loader.h"
#include "engine/debug/symbols.h"
#include "tap.h"

struct symdef {
	const char *name;
	unsigned type, bind;
	uint16_t shndx;
	uint64_t value, size;
};

static const struct symdef symdefs[] = {
	{ "prog.c", STT_FILE, STB_LOCAL, SHN_ABS, 0, 0 },
	{ "", STT_SECTION, STB_LOCAL, 1, 0x100000, 0 },
	{ "kmain", STT_FUNC, STB_GLOBAL, 1, 0x100000, 0x40 },
	{ "helper", STT_FUNC, STB_LOCAL, 1, 0x100040, 0x10 },
	{ "label", STT_NOTYPE, STB_GLOBAL, 1, 0x100100, 0x8 },
	{ "data_obj", STT_OBJECT, STB_GLOBAL, 1, 0x102000, 8 },
	{ "undef", STT_FUNC, STB_GLOBAL, SHN_UNDEF, 0, 0 },
	{ "zero", STT_OBJECT, STB_GLOBAL, 1, 0, 4 },
	{ "tls_var", STT_TLS, STB_GLOBAL, 1, 0x100200, 4 },
	{ "", STT_FUNC, STB_GLOBAL, 1, 0x100300, 4 },
};
#define NSYMS (sizeof(symdefs) / sizeof(symdefs[0]) + 1)   /* + the null symbol */

static size_t put_str(char *tab, size_t *len, const char *s)
{
	size_t off = *len;
	strcpy(tab + off, s);
	*len += strlen(s) + 1;
	return off;
}

/* An ELF64 executable: one PT_LOAD with 0x40 bytes of code at 1 MiB, and the
 * sections .text, .symtab, .strtab, .shstrtab. Returns its length. */
static size_t make_elf_with_syms(uint8_t *b, size_t cap)
{
	char strtab[256] = "", shstr[64] = "";
	size_t strlen_ = 1, shlen = 1;
	Elf64_Sym syms[NSYMS];
	memset(b, 0, cap);
	memset(syms, 0, sizeof(syms));
	for (size_t i = 1; i < NSYMS; i++) {
		const struct symdef *d = &symdefs[i - 1];
		syms[i].st_name = *d->name ? (uint32_t)put_str(strtab, &strlen_, d->name) : 0;
		syms[i].st_info = ELF64_ST_INFO(d->bind, d->type);
		syms[i].st_shndx = d->shndx;
		syms[i].st_value = d->value;
		syms[i].st_size = d->size;
	}
	size_t n_text = put_str(shstr, &shlen, ".text"), n_sym = put_str(shstr, &shlen, ".symtab");
	size_t n_str = put_str(shstr, &shlen, ".strtab"), n_sh = put_str(shstr, &shlen, ".shstrtab");

	size_t text_off = 0x100, sym_off = 0x140, str_off = sym_off + sizeof(syms);
	size_t shs_off = str_off + strlen_, sh_off = (shs_off + shlen + 7) & ~7ul;
	Elf64_Shdr sh[5];
	memset(sh, 0, sizeof(sh));
	sh[1] = (Elf64_Shdr){ (uint32_t)n_text, SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, 0x100000,
			      text_off, 0x40, 0, 0, 16, 0 };
	sh[2] = (Elf64_Shdr){ (uint32_t)n_sym, SHT_SYMTAB, 0, 0, sym_off, sizeof(syms), 3, 1, 8,
			      sizeof(Elf64_Sym) };
	sh[3] = (Elf64_Shdr){ (uint32_t)n_str, SHT_STRTAB, 0, 0, str_off, strlen_, 0, 0, 1, 0 };
	sh[4] = (Elf64_Shdr){ (uint32_t)n_sh, SHT_STRTAB, 0, 0, shs_off, shlen, 0, 0, 1, 0 };

	Elf64_Ehdr e = { .e_ident = { 0x7f, 'E', 'L', 'F', ELFCLASS64, ELFDATA2LSB, EV_CURRENT },
			 .e_type = ET_EXEC, .e_machine = EM_X86_64, .e_version = EV_CURRENT,
			 .e_entry = 0x100000, .e_phoff = sizeof(Elf64_Ehdr), .e_shoff = sh_off,
			 .e_ehsize = sizeof(Elf64_Ehdr), .e_phentsize = sizeof(Elf64_Phdr),
			 .e_phnum = 1, .e_shentsize = sizeof(Elf64_Shdr), .e_shnum = 5,
			 .e_shstrndx = 4 };
	Elf64_Phdr ph = { PT_LOAD, PF_R | PF_X, text_off, 0x100000, 0x100000, 0x40, 0x40, 0x1000 };
	memcpy(b, &e, sizeof(e));
	memcpy(b + sizeof(e), &ph, sizeof(ph));
	memset(b + text_off, 0x90, 0x40);
	memcpy(b + sym_off, syms, sizeof(syms));
	memcpy(b + str_off, strtab, strlen_);
	memcpy(b + shs_off, shstr, shlen);
	memcpy(b + sh_off, sh, sizeof(sh));
	return sh_off + sizeof(sh);
}

static char *write_temp(const void *data, size_t len)
{
	static char path[64];
	strcpy(path, "/tmp/hvwb-test-symbols-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
	close(fd);
	return path;
}

static void expect(struct symtab *t, uint64_t addr, const char *name, uint64_t off)
{
	uint64_t got = ~0ull;
	const char *n = sym_lookup(t, addr, &got);
	if (!name) {
		ok(n == NULL, "0x%llx has no symbol (got %s)", (unsigned long long)addr, n ? n : "none");
		return;
	}
	ok(n && strcmp(n, name) == 0 && got == off, "0x%llx is %s+0x%llx (got %s+0x%llx)",
	   (unsigned long long)addr, name, (unsigned long long)off, n ? n : "(null)",
	   (unsigned long long)got);
}

static void expect_resolve(struct symtab *t, const char *expr, int rc_want, uint64_t want)
{
	uint64_t got = 0;
	int rc = sym_resolve(t, expr, &got);
	ok(rc == rc_want && (rc < 0 || got == want), "resolve '%s' -> rc %d 0x%llx (got rc %d 0x%llx%s%s)",
	   expr, rc_want, (unsigned long long)want, rc, (unsigned long long)got,
	   rc < 0 ? ": " : "", rc < 0 ? err_msg() : "");
}

static void test_elf(void)
{
	static uint8_t img[4096];
	size_t len = make_elf_with_syms(img, sizeof(img));
	char *path = write_temp(img, len);
	struct symtab *t = sym_create();

	int n = sym_load_elf(t, path);
	is_int(n, 4, "ELF: 4 symbols kept (func, func, notype, object) (%s)", n < 0 ? err_msg() : "");
	is_int(sym_count(t), 4, "sym_count");
	uint64_t a = 0;
	is_str(sym_name_at(t, 0, &a), "kmain", "first in address order");
	is_int(a, 0x100000, "its address");
	is_str(sym_name_at(t, 3, NULL), "data_obj", "last in address order");
	ok(sym_name_at(t, 4, NULL) == NULL, "past the end");

	expect(t, 0x100000, "kmain", 0);
	expect(t, 0x100010, "kmain", 0x10);
	expect(t, 0x100045, "helper", 5);
	expect(t, 0x100050, NULL, 0);            /* past helper's size, before label */
	expect(t, 0x100180, "label", 0x80);      /* NOTYPE reaches the next symbol */
	expect(t, 0x101fff, "label", 0x1eff);
	expect(t, 0x102004, "data_obj", 4);
	expect(t, 0x102008, NULL, 0);
	expect(t, 0xfffff, NULL, 0);

	expect_resolve(t, "kmain", 0, 0x100000);
	expect_resolve(t, "kmain+0x10", 0, 0x100010);
	expect_resolve(t, "kmain+16", 0, 0x100010);
	expect_resolve(t, " helper + 4 ", 0, 0x100044);
	expect_resolve(t, "0x7c00", 0, 0x7c00);
	expect_resolve(t, "4096", 0, 4096);
	expect_resolve(t, "0x1000+0x10", 0, 0x1010);
	expect_resolve(t, "nosuch", -ENOENT, 0);
	expect_resolve(t, "undef", -ENOENT, 0);
	expect_resolve(t, "tls_var", -ENOENT, 0);
	expect_resolve(t, "prog.c", -ENOENT, 0);
	ok(sym_resolve(t, "kmain+zz", &a) < 0 && strstr(err_msg(), "offset"), "bad offset refused: %s",
	   err_msg());
	ok(sym_resolve(t, "0xg", &a) < 0, "bad number refused");
	sym_destroy(t);

	/* The same file through the loader: symbols arrive with the program. */
	struct guest_ram ram = { calloc(1, 4 << 20), 4 << 20 };
	struct boot_plan plan;
	t = sym_create();
	int rc = loader_load(&ram, path, NULL, &plan, t);
	ok(rc == 0 && sym_count(t) == 4, "loader_load fills the symbol table (%s)", rc ? err_msg() : "");
	expect_resolve(t, "data_obj+2", 0, 0x102002);
	ok(ram.host[0x100000] == 0x90 && plan.mode == MODE_LONG64, "and loads the program");
	sym_destroy(t);
	free(ram.host);

	/* Truncated copies, symbol table included: refused while segment data is
	 * cut, and never a read past the end (ASan watches the exact-size copies). */
	int refused_early = 0, handled = 0;
	struct load_opts o;
	load_opts_init(&o);
	o.format = LOAD_ELF;
	ram.host = calloc(1, 4 << 20);
	for (size_t l = 0; l < len; l++) {
		uint8_t *copy = malloc(l ? l : 1);
		memcpy(copy, img, l);
		t = sym_create();
		rc = loader_load_buffer(&ram, copy, l, "cut.elf", &o, &plan, t);
		if (rc < 0 && l < 0x140)
			refused_early++;
		if (rc <= 0)
			handled++;
		sym_destroy(t);
		free(copy);
	}
	free(ram.host);
	is_int(refused_early, 0x140, "prefixes cutting the code are refused");
	is_int(handled, len, "all %zu prefixes with a symbol table handled", len);

	t = sym_create();
	rc = sym_load_elf(t, "/nonexistent/x.elf");
	ok(rc == -ENOENT && strstr(err_msg(), "No such file"), "missing ELF: %s", err_msg());
	unlink(path);
	path = write_temp("hello", 5);
	ok(sym_load_elf(t, path) < 0 && strstr(err_msg(), "not an ELF"), "non-ELF refused: %s",
	   err_msg());
	unlink(path);
	sym_destroy(t);
}

static void test_sysmap(void)
{
	const char *map =
		"ffffffff81000000 T _text\n"
		"ffffffff81000000 T startup_64\n"
		"ffffffff81000100 t secondary_startup_64\n"
		"this line is garbage\n"
		"ffffffff81200000 D linux_banner\n"
		"0000000000000000 D fixed_percpu_data\n"
		"                 U undefined_thing\n"
		"ffffffff81300000 A an_absolute\n"
		"ffffffff81400000 T\n"
		"zzzz T notanumber\n";
	char *path = write_temp(map, strlen(map));
	struct symtab *t = sym_create();
	int n = sym_load_sysmap(t, path);
	is_int(n, 4, "System.map: 4 good lines of 10 (%s)", n < 0 ? err_msg() : "");
	expect(t, 0xffffffff81000150ull, "secondary_startup_64", 0x50);
	expect(t, 0xffffffff81000010ull, "_text", 0x10);
	expect(t, 0xffffffff81234567ull, "linux_banner", 0x34567);
	expect(t, 0xffffffff80ffffffull, NULL, 0);
	expect_resolve(t, "startup_64+0x100", 0, 0xffffffff81000100ull);
	expect_resolve(t, "an_absolute", -ENOENT, 0);
	n = sym_load_sysmap(t, path);
	is_int(sym_count(t), 4, "loading the same map twice adds no duplicates");
	unlink(path);

	path = write_temp("nothing here\n", 13);
	ok(sym_load_sysmap(t, path) < 0 && strstr(err_msg(), "no symbols"), "map without symbols: %s",
	   err_msg());
	unlink(path);
	ok(sym_load_sysmap(t, "/nonexistent/System.map") == -ENOENT, "missing map: %s", err_msg());
	sym_destroy(t);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A kernel-sized table: 150,000 symbols 0x40 apart, added in shuffled order. */
static void test_speed(void)
{
	enum { N = 150000 };
	struct symtab *t = sym_create();
	char name[32];
	for (uint64_t i = 0; i < N; i++) {
		uint64_t k = (i * 7919) % N;   /* 7919 is prime, so this is a permutation */
		snprintf(name, sizeof(name), "fn_%06llu", (unsigned long long)k);
		sym_add(t, name, 0xffffffff81000000ull + k * 0x40, 0);
	}
	double t0 = now();
	int bad = 0;
	for (uint64_t i = 0; i < 1000000; i++) {
		uint64_t k = (i * 31) % N, off;
		const char *s = sym_lookup(t, 0xffffffff81000000ull + k * 0x40 + 3, &off);
		snprintf(name, sizeof(name), "fn_%06llu", (unsigned long long)k);
		if (!s || strcmp(s, name) || off != 3)
			bad++;
	}
	for (uint64_t k = 0; k < N; k++) {
		uint64_t a;
		snprintf(name, sizeof(name), "fn_%06llu", (unsigned long long)k);
		if (sym_resolve(t, name, &a) || a != 0xffffffff81000000ull + k * 0x40)
			bad++;
	}
	double dt = now() - t0;
	is_int(sym_count(t), N, "150,000 symbols");
	is_int(bad, 0, "1,000,000 lookups and 150,000 resolves all right");
	ok(dt < 3.0, "and fast: %.3f s (sort included)", dt);
	sym_destroy(t);
}

int main(void)
{
	tap_plan(48);
	test_elf();
	test_sysmap();
	test_speed();
	return tap_done();
}
