/*
 * boot16.S: the smallest sample, a real-mode boot sector loaded and entered at 0x7c00. It
 * says hello on the serial port and leaves through the debug-exit with EXIT_BOOT16 (0x10),
 * so it exercises loading, real mode, port output and the exit path and nothing else.
 */
#include "machine.h"
#include "real16.inc"

	.code16
	.section .text.boot, "ax"
	.globl	_start
_start:
	real16_setup main
main:
	mov	$hello, %si
	call	puts16
	mov	$EXIT_BOOT16, %al
	out	%al, $DEBUG_EXIT_PORT
halt:	hlt
	jmp	halt

hello:	.asciz	"Hello from real mode!\r\n"
