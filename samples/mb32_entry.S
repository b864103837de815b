/*
 * mb32_entry.S: the multiboot v1 header and 32-bit entry of mb32. A multiboot loader (hvwb,
 * QEMU -kernel, GRUB) enters _start in flat protected mode with the magic in EAX and the
 * info structure's address in EBX; the stub gives kmain a stack and a zeroed .bss and passes
 * both on, cdecl.
 */
#include "machine.h"

#define MB_HEADER_MAGIC	0x1badb002
#define MB_WANT_MEMINFO	0x00000002	/* flags bit 1: fill mem_* and the memory map */

	.section .multiboot, "a"
	.balign	4
	.globl	multiboot_header
multiboot_header:
	.long	MB_HEADER_MAGIC
	.long	MB_WANT_MEMINFO
	.long	-(MB_HEADER_MAGIC + MB_WANT_MEMINFO)

	.code32
	.section .text.entry, "ax"
	.globl	_start
_start:
	cli
	cld
	mov	$stack_top, %esp
	mov	%eax, %esi		/* rep stosb needs EAX, EDI, ECX */
	mov	$__bss_start, %edi
	mov	$__bss_end, %ecx
	sub	%edi, %ecx
	xor	%eax, %eax
	rep stosb
	push	%ebx			/* kmain(magic, info) */
	push	%esi
	call	kmain
halt:	hlt
	jmp	halt

	.section .stack, "aw", @nobits
	.balign	16
	.skip	8192
stack_top:
