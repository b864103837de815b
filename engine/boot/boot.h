/* boot: puts a vCPU into the CPU mode a program expects at its entry point:
 * 16-bit real mode, 32-bit flat protected mode, or 64-bit long mode with
 * identity-mapped page tables. It writes the GDT and page tables into guest RAM
 * in a reserved low area and fills KVM register structs; it makes no ioctl. */
#ifndef HVWB_BOOT_H
#define HVWB_BOOT_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/core/guestmem.h"

enum cpu_mode { MODE_REAL16, MODE_PROT32, MODE_LONG64 };

/* Guest-physical area boot_prepare may write: GDT at BOOT_GDT_ADDR, the 64-bit
 * page tables (PML4, PDPT, 4 PDs of 2 MiB pages mapping the first 4 GiB) from
 * BOOT_PT_ADDR. Loaders refuse programs that overlap it. */
#define BOOT_AREA_START 0x500ull
#define BOOT_AREA_END   0x7000ull   /* exclusive */
#define BOOT_GDT_ADDR   0x500ull
#define BOOT_PT_ADDR    0x1000ull
/* Default stack top when the program does not set one: below the boot-sector
 * load address, in conventional memory every mode can reach. */
#define BOOT_DEFAULT_STACK 0x7000ull

/* How a program wants to be entered. The loader fills it in. */
struct boot_plan {
	enum cpu_mode mode;
	uint64_t entry;    /* linear address of the first instruction; in real mode
			      it becomes CS:IP with CS = entry >> 4 when entry > 0xffff */
	uint64_t stack;    /* initial RSP, 0 for BOOT_DEFAULT_STACK */
	uint64_t rax, rbx, rsi; /* initial register values (multiboot: magic, info) */
	uint64_t load_lo, load_hi; /* the guest-physical extent written, for messages */
	bool linux_selectors;      /* long mode with the Linux boot protocol's GDT:
				      __BOOT_CS 0x10, __BOOT_DS 0x18 */
};

/* Writes the boot structures the mode needs into RAM and sets regs/sregs for
 * the entry. `sregs` must hold the vCPU's current values (from KVM_GET_SREGS):
 * fields the mode does not concern are kept. Returns 0 or -errno (err_msg). */
int boot_prepare(struct guest_ram *ram, const struct boot_plan *plan,
		 struct kvm_regs *regs, struct kvm_sregs *sregs);

const char *boot_mode_name(enum cpu_mode mode);

#endif
