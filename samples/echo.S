/*
 * echo.S: a boot sector that reads one line from the serial port and echoes it back, for
 * testing the UART's input side: it prints "echo> ", then polls LSR bit 0 and echoes each
 * byte read from RBR until a CR or LF, which it answers with "\r\n" before leaving through
 * the debug-exit with EXIT_ECHO (0x50).
 */
#include "machine.h"
#include "real16.inc"

#define CHAR_CR	0x0d
#define CHAR_LF	0x0a

	.code16
	.section .text.boot, "ax"
	.globl	_start
_start:
	real16_setup main
main:
	mov	$prompt, %si
	call	puts16
next:
	call	getc16
	cmp	$CHAR_CR, %al
	je	eol
	cmp	$CHAR_LF, %al
	je	eol
	call	putc16
	jmp	next
eol:
	mov	$crlf, %si
	call	puts16
	mov	$EXIT_ECHO, %al
	out	%al, $DEBUG_EXIT_PORT
halt:	hlt
	jmp	halt

/* getc16: wait for a received byte and return it in AL. Keeps DX. */
getc16:
	push	%dx
	mov	$COM1_LSR, %dx
1:	in	%dx, %al
	test	$LSR_DATA_READY, %al
	jz	1b
	mov	$COM1_DATA, %dx
	in	%dx, %al
	pop	%dx
	ret

prompt:	.asciz	"echo> "
crlf:	.asciz	"\r\n"
