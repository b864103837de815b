/*
 * loop.S: the compute benchmark of the soft CPU (bench/soft.sh). A 32-bit multiboot kernel
 * that runs `inc; cmp; jne` exactly N times (3N instructions), N being the 32-bit number
 * after the tag "hvwbloop" just behind the multiboot header (guest-physical 0x100014; the
 * host finds the tag in the file to patch it for QEMU -kernel, or writes the address in
 * hvwb), then writes EXIT_LOOP to the debug-exit. No stack, no RAM written: registers only.
 */
#include "machine.h"

#define MB_HEADER_MAGIC	0x1badb002
#define EXIT_LOOP	0x60

	.section .multiboot, "a"
	.balign	4
	.long	MB_HEADER_MAGIC
	.long	0
	.long	-MB_HEADER_MAGIC
	.ascii	"hvwbloop"		/* 0x10000c: the tag a host looks for */
	.globl	count
count:	.long	1000000			/* 0x100014: N, patched by the host */

	.code32
	.section .text.entry, "ax"
	.globl	_start
_start:
	cli
	mov	count, %ecx
	xor	%eax, %eax
	test	%ecx, %ecx
	jz	done
	.globl	loop
loop:
	inc	%eax
	cmp	%ecx, %eax
	jne	loop
	.globl	done
done:
	mov	$EXIT_LOOP, %al
	out	%al, $DEBUG_EXIT_PORT
halt:	hlt
	jmp	halt
