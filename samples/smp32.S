/*
 * smp32.S: a two-vCPU 32-bit protected-mode kernel (multiboot, ring 0, no paging) for
 * debugging more than one vCPU. The bootstrap processor copies a real-mode trampoline to
 * AP_START, software-enables its local APIC and sends the other vCPU (APIC id 1) INIT and
 * a start-up IPI. The AP starts there in real mode and counts forever at AP_COUNTER in a
 * four-instruction loop: ap_loop (linear AP_START + 9) calls ap_count (AP_START + 14),
 * which does `lock incl` and returns, then jumps back. Once the count moves, the BSP
 * prints `ap: running` and spins at bsp_idle. It never exits: a test stops it with a
 * breakpoint or a pause.
 */
#include "machine.h"

#define MB_HEADER_MAGIC	0x1badb002
#define AP_START	0x8000		/* page 8: the start-up IPI's vector */
#define AP_COUNTER	0x9000
#define AP_STACK	0x7000
#define LAPIC_SVR	0xfee000f0
#define LAPIC_ICR_LO	0xfee00300
#define LAPIC_ICR_HI	0xfee00310
#define ICR_INIT	0x4500		/* delivery mode INIT, level assert */
#define ICR_STARTUP	0x4600		/* delivery mode start-up, level assert */

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
	mov	$ap_tramp, %esi
	mov	$AP_START, %edi
	mov	$(ap_tramp_end - ap_tramp), %ecx
	rep movsb
	movl	$0, AP_COUNTER
	movl	$0x1ff, LAPIC_SVR	/* APIC software-enabled, spurious vector 0xff */
	movl	$(1 << 24), LAPIC_ICR_HI
	movl	$ICR_INIT, LAPIC_ICR_LO
	movl	$(1 << 24), LAPIC_ICR_HI
	movl	$(ICR_STARTUP | (AP_START >> 12)), LAPIC_ICR_LO
	.globl	wait_ap
wait_ap:
	pause
	cmpl	$0, AP_COUNTER
	je	wait_ap
	mov	$message, %esi
print:
	mov	$COM1_LSR, %dx
1:	in	%dx, %al
	test	$LSR_THR_EMPTY, %al
	jz	1b
	lodsb
	test	%al, %al
	jz	bsp_idle
	mov	$COM1_DATA, %dx
	out	%al, %dx
	jmp	print
	.globl	bsp_idle
bsp_idle:
	pause
	jmp	bsp_idle

	/* Copied to AP_START and run there in real mode: position-independent but for
	 * the absolute counter address. */
	.code16
ap_tramp:
	xor	%ax, %ax
	mov	%ax, %ds
	mov	%ax, %ss
	mov	$AP_STACK, %sp
ap_loop:
	call	ap_count
	jmp	ap_loop
ap_count:
	lock incl AP_COUNTER
	ret
ap_tramp_end:
	.code32

	.section .rodata
message:
	.asciz	"ap: running\n"

	.section .stack, "aw", @nobits
	.balign	16
	.space	4096
stack_top:
