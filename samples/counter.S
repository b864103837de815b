/*
 * counter.S: the port-I/O exit benchmark. The same 64 KiB real-mode image runs in hvwb
 * (loaded at 0xF0000, entered at F000:FFF0) and in QEMU as a -bios image, so the two VMMs
 * are timed on the very same guest bytes. It writes to port 0x600 exactly N times, N being
 * the 32-bit little-endian number at image offset 0x0008 (physical 0xF0008) that the host
 * may patch before the run, then writes 0 to the debug-exit. It reads N through CS and uses
 * no stack or RAM, because in QEMU the image is ROM.
 */
#include "machine.h"

	.code16
	.section .text.head, "ax"
	.ascii	"hvwbcntr"		/* offset 0x0000: a tag for hosts to check */
	.globl	count
count:	.long	100000			/* offset 0x0008: N, patched by the host */
	.long	0			/* offset 0x000c: reserved */

	.text
	.globl	start
start:
	cli
	movl	%cs:count, %ecx
	mov	$COUNTER_PORT, %dx
	test	%ecx, %ecx
	jz	done
	.globl	loop
loop:
	mov	%cl, %al		/* the value written: low byte of the countdown */
	out	%al, %dx
	dec	%ecx
	jnz	loop
	.globl	done
done:
	mov	$EXIT_COUNTER, %al
	out	%al, $DEBUG_EXIT_PORT
halt:	hlt
	jmp	halt

	/* F000:FFF0, where a PC starts: in QEMU CS's base is still 0xFFFF0000 here. */
	.section .reset, "ax"
	.globl	reset
reset:
	ljmp	$0xf000, $start
