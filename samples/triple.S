/*
 * triple.S: a boot sector that crashes its machine on purpose. It loads an interrupt table
 * of limit 0 and divides by zero: the #DE cannot be delivered (#GP), neither can the #GP
 * (#DF) nor the #DF, so the CPU shuts down (KVM_EXIT_SHUTDOWN). It never reaches the
 * debug-exit. It sets CR0.PE first (no descriptor is reloaded, so the code keeps running
 * from the real-mode segment caches): where KVM emulates real mode, as on hosts without
 * hardware virtualisation (PVM), real-mode exception delivery ignores the IVT limit and
 * jumps through the table at 0 instead, while protected-mode delivery checks the IDT limit
 * everywhere. int3 is avoided for the same reason: KVM's emulator cannot deliver a software
 * interrupt in protected mode and reports an emulation failure instead of a triple fault.
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
	lidt	empty_idt
	mov	%cr0, %eax
	or	$1, %eax		/* CR0.PE */
	mov	%eax, %cr0
	xor	%cx, %cx
	.globl	fault
fault:
	div	%cx
halt:	hlt
	jmp	halt

	.balign	4
empty_idt:
	.word	0		/* limit: no vector fits */
	.long	0		/* base */
message:
	.asciz	"about to triple fault\r\n"
