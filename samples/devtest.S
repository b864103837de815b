/*
 * devtest.S: a fixed script of port and MMIO accesses for testing devices that a host (a
 * Lua lab, a unit test) registers on the VM's bus. The order and widths below are a
 * contract, written out in samples/README.md: tests assert the exact sequence. Entered in
 * 32-bit flat protected mode; ports above 0xff need DX.
 */
#include "machine.h"

#define DEV_PORT	0x500
#define DEV_MMIO	0xfe000000

	.code32
	.section .text.entry, "ax"
	.globl	_start
_start:
	cli
	mov	$stack_top, %esp

	mov	$DEV_PORT, %dx		/* 1. outb 0x11 -> 0x500 */
	mov	$0x11, %al
	out	%al, %dx
	mov	$0x22, %al		/* 2. outb 0x22 -> 0x500 */
	out	%al, %dx
	mov	$DEV_PORT + 2, %dx	/* 3. outw 0x4455 -> 0x502 */
	mov	$0x4455, %ax
	out	%ax, %dx

	.globl	port_reads
port_reads:
	mov	$DEV_PORT + 1, %dx	/* 4. inb 0x501 -> AL */
	in	%dx, %al
	mov	$DEV_PORT + 3, %dx	/* 5. outb AL -> 0x503 */
	out	%al, %dx
	mov	$DEV_PORT, %dx		/* 6. inl 0x500 -> EAX */
	in	%dx, %eax
	out	%eax, %dx		/* 7. outl EAX -> 0x500 */

	.globl	mmio
mmio:
	movl	$0xdeadbeef, DEV_MMIO		/* 8. 32-bit write 0xdeadbeef -> 0xfe000000 */
	movl	DEV_MMIO + 4, %eax		/* 9. 32-bit read 0xfe000004 -> EAX */
	mov	$DEV_PORT, %dx			/* 10. outl EAX -> 0x500 */
	out	%eax, %dx
	movb	$0x7f, DEV_MMIO + 8		/* 11. 8-bit write 0x7f -> 0xfe000008 */

	mov	$EXIT_DEVTEST, %al		/* 12. outb 0x40 -> 0xf4 */
	out	%al, $DEBUG_EXIT_PORT
halt:	hlt
	jmp	halt

	.section .stack, "aw", @nobits
	.balign	16
	.skip	1024
stack_top:
