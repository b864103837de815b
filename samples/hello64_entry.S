/*
 * hello64_entry.S: the assembly half of hello64: the 64-bit entry and the interrupt entry
 * stubs. The entry loads a GDT of its own (so the kernel does not depend on where the
 * loader put its GDT), gives kmain a stack and a zeroed .bss. The stubs turn the CPU's
 * interrupt frame into calls to the C handlers: exception_handler() for vectors 0-31 and
 * timer_handler() for the PIT's IRQ0.
 */
#include "machine.h"

#define KERNEL_CS	0x08
#define KERNEL_DS	0x10
/* Exceptions for which the CPU pushes an error code: 8, 10-14, 17, 21, 29, 30. */
#define ERROR_CODE_VECTORS	0x60227d00

	.code64
	.section .text.entry, "ax"
	.globl	_start
_start:
	cli
	cld
	mov	$stack_top, %rsp
	lgdt	gdt_pointer
	mov	$KERNEL_DS, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	%ax, %fs
	mov	%ax, %gs
	pushq	$KERNEL_CS		/* reload CS with a far return */
	pushq	$1f
	lretq
1:	mov	$__bss_start, %rdi
	mov	$__bss_end, %rcx
	sub	%rdi, %rcx
	xor	%eax, %eax
	rep stosb
	call	kmain
halt:	hlt
	jmp	halt

/*
 * One stub per exception vector, each pushing a dummy error code where the CPU does not, then
 * the vector, so exception_common always sees the same frame (struct exception_frame).
 * Their addresses go to exception_stubs[], which idt_init() reads.
 */
	.section .rodata
	.balign	8
	.globl	exception_stubs
exception_stubs:

	.text
	.irp	vector, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
exception_\vector:
	.if	((ERROR_CODE_VECTORS >> \vector) & 1) == 0
	pushq	$0
	.endif
	pushq	$\vector
	jmp	exception_common
	.pushsection .rodata
	.quad	exception_\vector
	.popsection
	.endr

exception_common:
	mov	%rsp, %rdi		/* exception_handler(frame) does not return */
	and	$-16, %rsp
	call	exception_handler
	jmp	halt

/*
 * IRQ0 from the PIT. The CPU aligned RSP to 16 before pushing its 5-word frame; nine pushes
 * make it 16-byte aligned again for the call, as the ABI wants.
 */
	.globl	isr_timer
isr_timer:
	push	%rax
	push	%rcx
	push	%rdx
	push	%rsi
	push	%rdi
	push	%r8
	push	%r9
	push	%r10
	push	%r11
	call	timer_handler
	pop	%r11
	pop	%r10
	pop	%r9
	pop	%r8
	pop	%rdi
	pop	%rsi
	pop	%rdx
	pop	%rcx
	pop	%rax
	iretq

	.section .rodata
	.balign	8
gdt:
	.quad	0			/* null */
	.quad	0x00af9a000000ffff	/* 0x08: 64-bit code, ring 0 */
	.quad	0x00cf92000000ffff	/* 0x10: data, ring 0 */
gdt_end:
	.balign	8
	.word	0			/* keeps the base 8-byte aligned */
gdt_pointer:
	.word	gdt_end - gdt - 1
	.quad	gdt

	.section .stack, "aw", @nobits
	.balign	16
	.skip	8192
stack_top:
