/* vm_linux: boots a Linux kernel in a VM: reads the kernel, initrd and symbol
 * files, lets linux.c lay them out in guest RAM, and points vCPU 0 at the
 * 64-bit entry. Symbols come from the file given, else from the kernel's own
 * tables (ELF symbols or kallsyms), else from a System.map named after the
 * kernel's version beside the kernel or in /boot. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/debug/elfsyms.h"
#include "util/err.h"
#include "engine/boot/loader_int.h"
#include "engine/core/vm_internal.h"

#define SYSMAP_MIN_SYMS 100    /* fewer: Debian's placeholder System.map */
/* Without a command line the kernel would print nothing where we can see it;
 * nokaslr keeps a bzImage's decompressor from moving the kernel away from
 * the addresses its symbols name. */
#define DEFAULT_CMDLINE "console=ttyS0 nokaslr"

/* System.map-<version> in the kernel's directory, then in /boot. */
static void default_sysmap(struct symtab *tab, const char *kernel, const char *version)
{
	char path[4096];
	const char *slash = strrchr(kernel, '/');
	int dirlen = slash ? (int)(slash - kernel) : 1;
	const char *dir = slash ? kernel : ".";
	if (!version[0])
		return;
	snprintf(path, sizeof(path), "%.*s/System.map-%s", dirlen, dir, version);
	if (access(path, R_OK) != 0)
		snprintf(path, sizeof(path), "/boot/System.map-%s", version);
	struct symtab *t = sym_create();
	if (t && access(path, R_OK) == 0 && sym_load_sysmap(t, path) >= SYSMAP_MIN_SYMS)
		sym_merge(tab, t);
	sym_destroy(t);
}

static int read_inputs(struct vm *vm, const struct vm_linux_opts *o, uint8_t **k, size_t *klen,
		       uint8_t **i, size_t *ilen)
{
	int r = loader_read_file(o->kernel, vm->mem_size, k, klen);
	if (r == 0 && o->initrd && (r = loader_read_file(o->initrd, vm->low_size, i, ilen)) < 0) {
		free(*k);
		*k = NULL;
	}
	return r;
}

static int load(struct vm *vm, const struct vm_linux_opts *o, struct symtab *syms,
		struct linux_info *info)
{
	uint8_t *k = NULL, *i = NULL;
	size_t klen = 0, ilen = 0;
	int r = read_inputs(vm, o, &k, &klen, &i, &ilen);
	if (r < 0)
		return r;
	struct linux_opts lo = { .cmdline = o->cmdline ? o->cmdline : DEFAULT_CMDLINE, .initrd = i, .initrd_len = ilen,
				 .how = o->how, .high_size = vm->mem_size - vm->low_size };
	struct guest_ram ram = vm_ram(vm);
	struct boot_plan plan;
	r = linux_load_buffer(&ram, k, klen, &lo, &plan, o->symbols ? NULL : syms, info);
	free(k);
	free(i);
	if (r < 0)
		return err_wrap(r, "%s", o->kernel);
	return vm_boot(vm, &plan, o->kernel);
}

int vm_load_linux(struct vm *vm, const struct vm_linux_opts *o, struct linux_info *info)
{
	if (!o || !o->kernel || !info)
		return err_set(-EINVAL, "vm_load_linux: missing argument");
	if (vm_state(vm) == VM_RUNNING)
		return err_set(-EBUSY, "VM %s is running: pause it first", vm->name);
	struct symtab *syms = sym_create();
	if (!syms)
		return err_set(-ENOMEM, "out of memory");
	int r = o->symbols ? sym_load_file(syms, o->symbols) : 0;
	/* Debian's placeholder holds one line; a real map of Linux has thousands. */
	bool placeholder = o->symbols && r >= 0 && sym_count(syms) < 2;
	size_t in_map = sym_count(syms);
	if (placeholder) {
		/* Debian's /boot/System.map-* is a one-line placeholder (the real
		 * one is in the -dbg package): the kernel's own table serves. */
		sym_destroy(syms);
		syms = sym_create();
		if (!syms)
			return err_set(-ENOMEM, "out of memory");
	}
	const char *map = placeholder ? NULL : o->symbols;
	struct vm_linux_opts own = *o;
	own.symbols = map;
	if (r >= 0)
		r = load(vm, &own, syms, info);
	if (r >= 0 && placeholder)
		snprintf(info->symbols_note, sizeof(info->symbols_note), "%s has %zu symbol%s, so it is "
			 "a placeholder (Debian's real map is in the -dbg package): using the kernel's own "
			 "symbols instead",
			 o->symbols, in_map, in_map == 1 ? "" : "s");
	if (r >= 0 && !map && info->nsyms == 0)
		default_sysmap(syms, o->kernel, info->kernel_version);
	if (r >= 0) {
		info->nsyms = (int)sym_count(syms);
		r = sym_merge(vm->syms, syms);
	}
	sym_destroy(syms);
	return r < 0 ? r : 0;
}
