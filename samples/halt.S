/*
 * halt.S: a boot sector that prints a line and then halts with interrupts off, forever. No
 * interrupt can wake it, so a VMM sees a vCPU parked in HLT (with the in-kernel irqchip it
 * never even exits to user space): the case for timeouts and for pausing a quiet VM.
 */
#include "machine.h"
#include "real16.inc"

	.code16
	.section .text.boot, "ax"
	.globl	_start
_start:
	real16_setup main
main:
	mov	$message, %si
	call	puts16
	cli
	.globl	halt
halt:	hlt
	jmp	halt

message:
	.asciz	"halting\r\n"
