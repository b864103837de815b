/* loader_elf: ELF32/ELF64 executables for x86, read with libelf. Only fixed
 * address executables (ET_EXEC) make sense in a machine without an OS, and each
 * PT_LOAD segment goes to its physical address (p_paddr): kernels linked high
 * (vmlinux: virtual 0xffffffff81000000, physical 0x1000000) then land where
 * they expect, and an entry point given as a virtual address is translated.
 * libelf checks its own reads, but the offsets we copy from are checked here
 * against the buffer, since we copy straight from it. */
#include <errno.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>

#include "engine/debug/elfsyms.h"
#include "util/err.h"
#include "engine/boot/loader_int.h"

static const char *machine_name(unsigned m)
{
	switch (m) {
	case EM_ARM: return "ARM";
	case EM_AARCH64: return "AArch64";
	case EM_RISCV: return "RISC-V";
	case EM_PPC: return "PowerPC";
	case EM_PPC64: return "PowerPC64";
	case EM_MIPS: return "MIPS";
	case EM_SPARC: case EM_SPARCV9: return "SPARC";
	case EM_S390: return "S/390";
	case EM_IA_64: return "IA-64";
	case EM_68K: return "m68k";
	}
	return "an unknown machine";
}

static int check_ident(const uint8_t *buf, size_t len, int *elfclass)
{
	if (len < EI_NIDENT || memcmp(buf, ELFMAG, SELFMAG) != 0)
		return err_set(-ENOEXEC, "not an ELF file (bad magic)");
	*elfclass = buf[EI_CLASS];
	if (*elfclass != ELFCLASS32 && *elfclass != ELFCLASS64)
		return err_set(-ENOEXEC, "unknown ELF class %d (neither 32- nor 64-bit)", *elfclass);
	if (buf[EI_DATA] != ELFDATA2LSB)
		return err_set(-ENOEXEC, "ELF data is not little-endian, so it is not for x86");
	size_t need = *elfclass == ELFCLASS32 ? sizeof(Elf32_Ehdr) : sizeof(Elf64_Ehdr);
	if (len < need)
		return err_set(-ENOEXEC, "truncated ELF header: the file has %zu bytes, the header needs %zu",
			       len, need);
	return 0;
}

static int check_ehdr(const GElf_Ehdr *eh)
{
	if (eh->e_machine != EM_386 && eh->e_machine != EM_X86_64)
		return err_set(-ENOEXEC, "ELF machine is %s (e_machine %u), not x86: only EM_386 "
			       "and EM_X86_64 programs can run", machine_name(eh->e_machine),
			       eh->e_machine);
	switch (eh->e_type) {
	case ET_EXEC:
		return 0;
	case ET_DYN:
		return err_set(-ENOEXEC, "position-independent executable or shared object (ET_DYN): "
			       "only fixed-address executables (ET_EXEC) can be loaded; link with "
			       "-static -no-pie or a linker script");
	case ET_REL:
		return err_set(-ENOEXEC, "object file (ET_REL), not a linked executable");
	case ET_CORE:
		return err_set(-ENOEXEC, "core dump (ET_CORE), not an executable");
	}
	return err_set(-ENOEXEC, "ELF type %u is not an executable", eh->e_type);
}

static int check_phdr_table(Elf *elf, const GElf_Ehdr *eh, size_t len, size_t *phnum)
{
	size_t entsize = gelf_fsize(elf, ELF_T_PHDR, 1, EV_CURRENT);

	if (eh->e_phoff == 0 || eh->e_phnum == 0)
		return err_set(-ENOEXEC, "no program headers (e_phoff %llu, e_phnum %u)",
			       (unsigned long long)eh->e_phoff, eh->e_phnum);
	if (eh->e_phentsize != entsize)
		return err_set(-ENOEXEC, "program header size e_phentsize %u, expected %zu",
			       eh->e_phentsize, entsize);
	/* Checked before asking libelf, so the message says what is wrong. */
	*phnum = eh->e_phnum;
	if (*phnum != PN_XNUM && (eh->e_phoff > len || *phnum > (len - eh->e_phoff) / entsize))
		return err_set(-ENOEXEC, "program headers at offset 0x%llx (%zu of %zu bytes) run "
			       "past the end of the file (%zu bytes)",
			       (unsigned long long)eh->e_phoff, *phnum, entsize, len);
	if (elf_getphdrnum(elf, phnum) != 0)
		return err_set(-ENOEXEC, "bad program header count: %s", elf_errmsg(-1));
	if (eh->e_phoff > len || *phnum > (len - eh->e_phoff) / entsize)
		return err_set(-ENOEXEC, "program headers at offset 0x%llx (%zu of %zu bytes) run "
			       "past the end of the file (%zu bytes)",
			       (unsigned long long)eh->e_phoff, *phnum, entsize, len);
	return 0;
}

static int add_segment(const uint8_t *buf, size_t len, size_t i, const GElf_Phdr *ph,
		       struct loader_set *set)
{
	if (ph->p_offset > len || ph->p_filesz > len - ph->p_offset)
		return err_set(-ENOEXEC, "segment %zu: file bytes 0x%llx + 0x%llx lie beyond the end "
			       "of the file (%zu bytes)", i, (unsigned long long)ph->p_offset,
			       (unsigned long long)ph->p_filesz, len);
	if (ph->p_filesz > ph->p_memsz)
		return err_set(-ENOEXEC, "segment %zu: p_filesz 0x%llx is larger than p_memsz 0x%llx",
			       i, (unsigned long long)ph->p_filesz, (unsigned long long)ph->p_memsz);
	if (ph->p_memsz == 0)
		return 0;
	return loader_set_add(set, ph->p_paddr, buf + ph->p_offset, ph->p_filesz, ph->p_memsz,
			      "segment %zu", i);
}

static bool in_range(uint64_t x, uint64_t base, uint64_t size)
{
	return x >= base && x - base < size;
}

/* The entry as a physical address: as given when a segment's physical range
 * holds it, else translated through the segment whose virtual range does. */
static int load_segments(Elf *elf, const uint8_t *buf, size_t len, size_t phnum,
			 uint64_t e_entry, struct loader_set *set, uint64_t *entry)
{
	bool phys = false, virt = false;
	int rc;

	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph))
			return err_set(-ENOEXEC, "program header %zu: %s", i, elf_errmsg(-1));
		if (ph.p_type != PT_LOAD)
			continue;
		if ((rc = add_segment(buf, len, i, &ph, set)) < 0)
			return rc;
		if (in_range(e_entry, ph.p_paddr, ph.p_memsz))
			phys = true;
		else if (!virt && in_range(e_entry, ph.p_vaddr, ph.p_memsz)) {
			virt = true;
			*entry = ph.p_paddr + (e_entry - ph.p_vaddr);
		}
	}
	if (set->n == 0)
		return err_set(-ENOEXEC, "no loadable (PT_LOAD) segment with a size");
	if (phys)
		*entry = e_entry;
	else if (!virt)
		return err_set(-ENOEXEC, "entry point 0x%llx is not inside any loadable segment",
			       (unsigned long long)e_entry);
	return 0;
}

int loader_elf_parse(const uint8_t *buf, size_t len, bool want_syms,
		     struct loader_set *set, struct loader_elf_info *info)
{
	GElf_Ehdr eh;
	size_t phnum;
	int rc;

	memset(info, 0, sizeof(*info));
	if ((rc = check_ident(buf, len, &info->elfclass)) < 0)
		return rc;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return err_set(-EINVAL, "libelf is too old: %s", elf_errmsg(-1));
	/* Read-only use: libelf never writes through this pointer. */
	Elf *elf = elf_memory((char *)buf, len);
	if (!elf)
		return err_set(-ENOEXEC, "libelf cannot read it: %s", elf_errmsg(-1));
	if (!gelf_getehdr(elf, &eh))
		rc = err_set(-ENOEXEC, "bad ELF header: %s", elf_errmsg(-1));
	if (rc == 0)
		rc = check_ehdr(&eh);
	if (rc == 0)
		rc = check_phdr_table(elf, &eh, len, &phnum);
	if (rc == 0)
		rc = load_segments(elf, buf, len, phnum, eh.e_entry, set, &info->entry);
	if (rc == 0 && want_syms) {
		info->syms = sym_create();
		if (!info->syms)
			rc = err_set(-ENOMEM, "out of memory");
		else if ((rc = sym_add_elf(info->syms, elf)) > 0)
			rc = 0;
	}
	if (rc < 0) {
		sym_destroy(info->syms);
		info->syms = NULL;
	}
	elf_end(elf);
	return rc;
}

int loader_elf(struct guest_ram *ram, const uint8_t *buf, size_t len,
	       const struct load_opts *opts, struct boot_plan *plan, struct symtab *syms)
{
	struct loader_set set = { 0 };
	struct loader_elf_info info;
	int rc = loader_elf_parse(buf, len, syms != NULL, &set, &info);
	int mode = info.elfclass == ELFCLASS64 ? MODE_LONG64 : MODE_PROT32;

	if (rc == 0 && opts->mode >= 0)
		mode = opts->mode;
	if (rc == 0 && mode > MODE_LONG64)
		rc = err_set(-EINVAL, "unknown CPU mode %d (0 real16, 1 prot32, 2 long64)", mode);
	if (rc == 0 && mode == MODE_REAL16 && info.entry > 0xfffff)
		rc = err_set(-EINVAL, "real-mode entry 0x%llx is above 1 MiB",
			     (unsigned long long)info.entry);
	if (rc == 0 && mode == MODE_PROT32 && info.entry > 0xffffffffull)
		rc = err_set(-EINVAL, "32-bit entry 0x%llx is above 4 GiB",
			     (unsigned long long)info.entry);
	/* The boot area is kept free in every mode: simpler to explain than a
	 * rule that depends on the mode the program asks for. */
	if (rc == 0)
		rc = loader_set_check(ram, &set, true);
	if (rc == 0) {
		plan->mode = (enum cpu_mode)mode;
		plan->entry = info.entry;
		loader_set_extent(&set, set.n, &plan->load_lo, &plan->load_hi);
		rc = loader_finish(ram, &set, &info, syms);
	}
	sym_destroy(info.syms);
	loader_set_free(&set);
	return rc;
}
