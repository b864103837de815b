/*
 * irq32.S: a 32-bit protected-mode kernel (multiboot, ring 0) that takes timer interrupts
 * and returns from each with iret: it installs an IDT with one interrupt gate (vector
 * 0x20), remaps the PIC to 0x20-0x2f with only IRQ0 unmasked, programs PIT channel 0 in
 * mode 2 at 1000 Hz, waits in `sti; hlt; cli` until 10 ticks, prints `timer: 10 ticks`
 * and exits with 0x60. Hosts whose KVM emulates ring 0 (no VT-x) cannot run a 32-bit
 * ring-0 iret; hvwb completes it there (engine/debug/fallback.c).
 */
#include "machine.h"

#define MB_HEADER_MAGIC	0x1badb002
#define TICKS		10
#define PIT_DIVISOR	1193		/* 1193182 Hz / 1193: 1000 Hz */

	.section .multiboot, "a"
	.balign	4
	.long	MB_HEADER_MAGIC
	.long	0
	.long	-MB_HEADER_MAGIC

	.code32
	.section .text.entry, "ax"
	.globl	_start
_start:
	cli
	mov	$stack_top, %esp
	/* The gate for vector 0x20: handler offset, this code segment, present DPL 0 32-bit
	 * interrupt gate (0x8e). */
	mov	$timer_handler, %eax
	mov	%ax, idt + 0x20 * 8
	shr	$16, %eax
	mov	%ax, idt + 0x20 * 8 + 6
	mov	%cs, %ax
	mov	%ax, idt + 0x20 * 8 + 2
	movw	$0x8e00, idt + 0x20 * 8 + 4
	lidt	idt_desc
	/* PIC: ICW1 (edge, cascade, ICW4), ICW2 vector bases, ICW3 wiring, ICW4 8086, OCW1 masks. */
	mov	$0x11, %al
	out	%al, $0x20
	out	%al, $0xa0
	mov	$0x20, %al
	out	%al, $0x21
	mov	$0x28, %al
	out	%al, $0xa1
	mov	$0x04, %al
	out	%al, $0x21
	mov	$0x02, %al
	out	%al, $0xa1
	mov	$0x01, %al
	out	%al, $0x21
	out	%al, $0xa1
	mov	$0xfe, %al
	out	%al, $0x21
	mov	$0xff, %al
	out	%al, $0xa1
	/* PIT channel 0, lobyte/hibyte, mode 2. */
	mov	$0x34, %al
	out	%al, $0x43
	mov	$(PIT_DIVISOR & 0xff), %al
	out	%al, $0x40
	mov	$(PIT_DIVISOR >> 8), %al
	out	%al, $0x40
	.globl	wait_ticks
wait_ticks:
	sti
	hlt
	cli
	cmpl	$TICKS, ticks
	jb	wait_ticks
	mov	$message, %esi
	.globl	print
print:
	mov	$COM1_LSR, %dx
1:	in	%dx, %al
	test	$LSR_THR_EMPTY, %al
	jz	1b
	lodsb
	test	%al, %al
	jz	done
	mov	$COM1_DATA, %dx
	out	%al, %dx
	jmp	print
done:
	mov	$EXIT_IRQ32, %al
	out	%al, $DEBUG_EXIT_PORT
halt:	hlt
	jmp	halt

	.globl	timer_handler
timer_handler:
	push	%eax
	incl	ticks
	mov	$0x20, %al		/* non-specific EOI */
	out	%al, $0x20
	pop	%eax
	iret

	.section .rodata
message:
	.asciz	"timer: 10 ticks\n"
	.balign	8
idt_desc:
	.word	0x21 * 8 - 1
	.long	idt

	.section .bss
	.balign	8
	.globl	idt
idt:	.space	0x21 * 8
	.globl	ticks
ticks:	.long	0

	.section .stack, "aw", @nobits
	.balign	16
	.space	4096
stack_top:
