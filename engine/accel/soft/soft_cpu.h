/* soft_cpu: the private state of hvwb's software x86-64 CPU and the calls
 * its modules make to each other. One `struct accel_vm` per VM (RAM slots, the
 * irqchip, its vCPUs) and one `struct accel_vcpu` per vCPU (registers,
 * segment caches, soft TLB, lazy flags, pending I/O). Nothing here is global:
 * several VMs run at once, each vCPU in its own thread.
 *
 * Execution model: an instruction is decoded into `struct soft_insn` and run
 * through its handler. Faults longjmp back to the run loop (soft_raise), which
 * restores RIP/RSP from the instruction's start and delivers the exception.
 * Port and MMIO accesses the VMM must serve also leave by longjmp; the
 * instruction is re-run on the next vcpu_run with the answered accesses
 * replayed from a small log, so no instruction ever half-completes. */
#ifndef HVWB_SOFT_CPU_H
#define HVWB_SOFT_CPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/accel/accel.h"
#include "engine/accel/soft/irqchip.h"
#include "engine/accel/soft/soft.h"

enum { R_AX, R_CX, R_DX, R_BX, R_SP, R_BP, R_SI, R_DI };
enum { S_ES, S_CS, S_SS, S_DS, S_FS, S_GS, S_NONE = 7 };

#define F_CF 0x1u
#define F_PF 0x4u
#define F_AF 0x10u
#define F_ZF 0x40u
#define F_SF 0x80u
#define F_TF 0x100u
#define F_IF 0x200u
#define F_DF 0x400u
#define F_OF 0x800u
#define F_IOPL 0x3000u
#define F_NT 0x4000u
#define F_RF 0x10000u
#define F_VM 0x20000u
#define F_AC 0x40000u
#define F_ID 0x200000u
#define F_ARITH (F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)

#define CR0_PE 0x1u
#define CR0_MP 0x2u
#define CR0_EM 0x4u
#define CR0_TS 0x8u
#define CR0_ET 0x10u
#define CR0_NE 0x20u
#define CR0_WP 0x10000u
#define CR0_AM 0x40000u
#define CR0_NW 0x20000000u
#define CR0_CD 0x40000000u
#define CR0_PG 0x80000000u
#define CR4_PSE 0x10u
#define CR4_PAE 0x20u
#define CR4_PGE 0x80u
#define CR4_OSFXSR 0x200u
#define CR4_OSXSAVE 0x40000u
#define EFER_SCE 0x1u
#define EFER_LME 0x100u
#define EFER_LMA 0x400u
#define EFER_NXE 0x800u

enum { EXC_DE = 0, EXC_DB = 1, EXC_NMI = 2, EXC_BP = 3, EXC_OF = 4, EXC_BR = 5, EXC_UD = 6,
       EXC_NM = 7, EXC_DF = 8, EXC_TS = 10, EXC_NP = 11, EXC_SS = 12, EXC_GP = 13,
       EXC_PF = 14, EXC_MF = 16, EXC_AC = 17, EXC_XM = 19 };

/* Lazy flags: the last flag-setting operation, kept until someone reads. */
enum soft_ccop { CC_NONE, CC_ADD, CC_ADC, CC_SUB, CC_SBB, CC_LOGIC, CC_INC, CC_DEC };

/* Access kinds of the soft TLB, times two for user (CPL 3) accesses. */
enum { ACC_R, ACC_W, ACC_X, ACC_KINDS };
#define TLB_SIZE 256

struct soft_tlb_entry {
	uint64_t tag[2 * ACC_KINDS]; /* linear page | 0, or 1 = invalid */
	uintptr_t addend;            /* host = addend + linear */
	bool global;
};

struct soft_slot {
	bool used;
	uint32_t flags;
	uint64_t gpa, size;
	uint8_t *hva;
	_Atomic uint64_t *dirty;     /* one bit a page, KVM_MEM_LOG_DIRTY_PAGES */
	_Atomic uint64_t *code;      /* one bit a page: decoded blocks were made from it */
};

#define SOFT_SLOTS 64

struct accel_vm {
	struct irqchip *chip;
	struct irqchip_host host;
	pthread_mutex_t lock;        /* slots, vcpus[] */
	struct soft_slot slots[SOFT_SLOTS];
	_Atomic uint32_t mem_gen;    /* bumped when slots or dirty logs change */
	_Atomic uint32_t code_gen;   /* bumped when a code page is written: blocks are stale */
	struct accel_vcpu *vcpus[IRQCHIP_MAX_VCPUS];
	int64_t clock_offset;        /* kvmclock ns = monotonic + offset */
};

/* One decoded instruction. */
struct soft_insn;
typedef void (*soft_exec_fn)(struct accel_vcpu *c, struct soft_insn *i);

struct soft_insn {
	soft_exec_fn fn;
	uint8_t len;
	uint8_t op;                  /* opcode byte (in its map) */
	uint8_t map;                 /* 0: one byte, 1: 0f, 2: 0f38, 3: 0f3a */
	uint8_t osz, asz;            /* operand, address size in bytes */
	uint8_t seg;                 /* segment of the memory operand */
	uint8_t rep;                 /* 0, 0xf2 or 0xf3 */
	uint8_t pfx66;               /* an 0x66 prefix was seen (SSE) */
	bool lock, has_rex, mem, riprel;
	uint8_t rex;
	uint8_t modrm;
	uint8_t mod, reg, rm;        /* reg, rm with REX bits */
	int8_t base, index;          /* -1: none */
	uint8_t scale;
	int64_t disp;
	uint64_t imm, imm2;
	uint8_t bytes[16];
};

#define SOFT_BLOCK_MAX 32
struct soft_block;

#define MMIO_LOG 8
struct soft_io_rec {
	bool is_pio, is_write, done;
	uint64_t addr;
	uint8_t len;
	uint8_t data[8];
};

struct accel_vcpu {
	struct accel_vm *vm;
	int index;
	struct kvm_run *run;

	/* architectural state */
	uint64_t r[16];
	uint64_t rip;
	uint64_t rflags;             /* arithmetic bits valid only when cc_op == CC_NONE */
	enum soft_ccop cc_op;
	uint8_t cc_size;
	uint64_t cc_res, cc_a, cc_b, cc_cf; /* cc_res masked to cc_size */
	struct kvm_segment seg[6], tr, ldt;
	struct kvm_dtable gdt, idt;
	uint64_t cr0, cr2, cr3, cr4, efer, xcr0;
	uint64_t dr[4], dr6, dr7;
	uint64_t star, lstar, cstar, sfmask, kgsbase, sysenter_cs, sysenter_esp, sysenter_eip;
	int64_t tsc_offset;
	uint64_t tsc_aux, pat, misc_enable, mtrr_def, mtrr[0x100];
	uint8_t fx[512] __attribute__((aligned(16))); /* FXSAVE image: x87, MXCSR, XMM */
	uint8_t xsave_hdr[64];

	/* events */
	int mp_state;
	bool nmi_pending, nmi_masked;
	int shadow;                  /* instructions left in the sti/mov ss shadow */
	bool ss_shadow;              /* that shadow is a mov ss / pop ss one */
	bool exc_pending;            /* vcpu_events' pending exception */
	uint8_t exc_vec;
	bool exc_has_err;
	uint32_t exc_err;
	int irq_injected;            /* -1 or a vector to deliver first */

	/* cached mode */
	int cpl;
	bool mode64, code32, stack32;
	uint64_t insn_rip, insn_rsp;

	/* guest debug */
	uint32_t dbg_control;
	uint64_t dbg_reg[8];
	bool dbg_stepped;            /* one instruction executed since entry */

	/* run-loop plumbing */
	jmp_buf jb;
	int in_delivery;             /* vector being delivered, -1 none */
	int raised_vec;
	bool raised_has_err;
	uint32_t raised_err;
	int exit_code;               /* why a longjmp left: see soft_exit */
	struct soft_io_rec io[MMIO_LOG]; /* reads answered so far, replayed */
	int io_n, io_pos;
	bool io_pending;             /* the VMM answers io[io_n-1] */
	struct soft_io_rec wq[MMIO_LOG]; /* writes for the VMM, exits after retire */
	int wq_n, wq_pos;
	struct soft_insn *cur;       /* the instruction running (for failures) */
	bool step_exit_pending;      /* single-step exit owed after an I/O exit */
	int poll_countdown;          /* instructions until the timers are polled */
	unsigned pauses;             /* pause instructions (every 16th yields the host CPU) */
	bool repeat;                 /* a rep instruction yielded: run it again */
	bool trap_now;               /* single-step trap right after this instruction (sysret) */
	bool no_trap;                /* no single-step trap after this one (syscall clearing TF) */
	bool bp_skip;                /* the exec breakpoint at rip already exited */
	bool resume_one;             /* immediate_exit: finish the pending insn only */
	uint64_t insn_count;
	uint64_t next_poll_count;
	int data_bp_hit;             /* bitmask of hit data breakpoints */
	int data_bp_deferred;        /* hits of a mov ss / pop ss: #DB after the next instruction */

	_Atomic int work;            /* futex word: something to look at */
	_Atomic int kicked;          /* vcpu_kick: return -EINTR */

	struct kvm_cpuid_entry2 *cpuid;
	int ncpuid;

	uint32_t mem_gen_seen;
	uint32_t code_gen_seen;
	bool exit_block;             /* stop running the current decoded block */
	uint32_t tlb_gen;            /* bumped by every TLB flush (block links) */
	uint32_t run_epoch;          /* vcpu_run calls: blocks recheck their bytes in a new one */
	struct soft_block **bhash;   /* decoded-block cache (soft_block.c) */
	uint8_t *arena;
	size_t arena_used;
	struct soft_insn build[SOFT_BLOCK_MAX];
	uint64_t xlat_gpa;           /* soft_translate's physical address */
	bool watch;                  /* a data breakpoint is armed */
	struct soft_tlb_entry tlb[TLB_SIZE];
};

/* soft_mem.c */
void soft_tlb_flush(struct accel_vcpu *c, bool keep_global);
void soft_tlb_flush_page(struct accel_vcpu *c, uint64_t lin);
uint8_t *soft_translate(struct accel_vcpu *c, uint64_t lin, int kind, bool user);
uint64_t soft_lin_read(struct accel_vcpu *c, uint64_t lin, int size, int kind);
void soft_lin_write(struct accel_vcpu *c, uint64_t lin, int size, uint64_t v);
uint64_t soft_lin_read_sys(struct accel_vcpu *c, uint64_t lin, int size);
void soft_lin_write_sys(struct accel_vcpu *c, uint64_t lin, int size, uint64_t v);
uint64_t soft_linear(struct accel_vcpu *c, int seg, uint64_t off, int size, int kind);
uint64_t soft_read(struct accel_vcpu *c, int seg, uint64_t off, int size);
void soft_write(struct accel_vcpu *c, int seg, uint64_t off, int size, uint64_t v);
uint8_t *soft_phys_ptr(struct accel_vm *vm, uint64_t gpa, bool write);
bool soft_phys_access(struct accel_vcpu *c, uint64_t gpa, void *data, int len, bool write);
void soft_mark_dirty(struct accel_vm *vm, uint64_t gpa);
int soft_fetch(struct accel_vcpu *c, uint64_t rip, uint8_t *buf, int max);

/* soft_run.c */
_Noreturn void soft_raise(struct accel_vcpu *c, int vec, bool has_err, uint32_t err);
_Noreturn void soft_exit(struct accel_vcpu *c);
_Noreturn void soft_emul_fail(struct accel_vcpu *c);
static inline _Noreturn void soft_gp(struct accel_vcpu *c, uint32_t err)
{
	soft_raise(c, EXC_GP, true, err);
}
static inline _Noreturn void soft_ud(struct accel_vcpu *c)
{
	soft_raise(c, EXC_UD, false, 0);
}
void soft_update_mode(struct accel_vcpu *c);
void soft_reset(struct accel_vcpu *c);
int soft_vcpu_exec(struct accel_vcpu *c);
int soft_vcpu_run(struct accel_vcpu *c);
void soft_wake(struct accel_vcpu *c);
#define SOFT_RUN_SIZE 8192
#define SOFT_IO_DATA 4096   /* offset of port I/O data in the run area */
bool soft_io_access(struct accel_vcpu *c, bool pio, uint64_t addr, void *data, int len,
		    bool write);
uint64_t soft_tsc(struct accel_vcpu *c);
uint64_t soft_now_ns(void);

/* soft_flags.c */
uint64_t soft_get_flags(struct accel_vcpu *c);
void soft_set_flags(struct accel_vcpu *c, uint64_t f);
bool soft_cf_slow(struct accel_vcpu *c);
bool soft_cond_slow(struct accel_vcpu *c, int cc);
/* Inline fast paths for the common lazy states (after cmp/sub, logic ops,
 * inc/dec); the rest is computed in soft_flags.c. */
static inline bool soft_cf(struct accel_vcpu *c)
{
	uint64_t mask = c->cc_size == 8 ? ~0ull : (1ull << (c->cc_size * 8)) - 1;
	switch (c->cc_op) {
	case CC_NONE: return c->rflags & F_CF;
	case CC_SUB: return (c->cc_a & mask) < (c->cc_b & mask);
	case CC_ADD: return (c->cc_res & mask) < (c->cc_a & mask);
	case CC_LOGIC: return false;
	case CC_INC:
	case CC_DEC: return c->cc_cf;
	default: return soft_cf_slow(c);
	}
}

static inline bool soft_cond(struct accel_vcpu *c, int cc)
{
	if ((cc >> 1) == 2 && c->cc_op != CC_NONE) /* jz/jnz: cc_res is kept masked */
		return (c->cc_res == 0) ^ (cc & 1);
	return soft_cond_slow(c, cc);
}
void soft_flags_materialize(struct accel_vcpu *c);

/* soft_alu.c */
uint64_t soft_alu(struct accel_vcpu *c, int op, int size, uint64_t a, uint64_t b);
uint64_t soft_shift(struct accel_vcpu *c, int op, int size, uint64_t a, unsigned n);
uint64_t soft_shd(struct accel_vcpu *c, bool right, int size, uint64_t a, uint64_t b,
		  unsigned n);
void soft_set_szp(struct accel_vcpu *c, int size, uint64_t res, uint64_t keep);

/* soft_block.c */
int soft_exec_block(struct accel_vcpu *c);
bool soft_block_fast_ok(struct accel_vcpu *c);
void soft_blocks_free(struct accel_vcpu *c);
void soft_code_written(struct accel_vm *vm);
int soft_retire(struct accel_vcpu *c, bool tf);
void soft_poll_timers(struct accel_vcpu *c);
void soft_specialize(struct accel_vcpu *c, struct soft_insn *i);

/* soft_decode.c */
int soft_decode(struct accel_vcpu *c, struct soft_insn *i);
uint64_t soft_ea(struct accel_vcpu *c, const struct soft_insn *i);
uint64_t soft_reg_get(struct accel_vcpu *c, const struct soft_insn *i, int r, int size);
void soft_reg_set(struct accel_vcpu *c, const struct soft_insn *i, int r, int size,
		  uint64_t v);
uint64_t soft_rm_get(struct accel_vcpu *c, const struct soft_insn *i, int size);
void soft_rm_set(struct accel_vcpu *c, const struct soft_insn *i, int size, uint64_t v);
/* Guest RAM is shared with the other vCPUs (and the guest races on it by
 * design: spinning on a flag another vCPU sets). x86 makes naturally aligned
 * accesses of up to 8 bytes atomic, so those are relaxed atomics here: never
 * torn, and plain moves on the host. Anything else is copied bytewise. */
static inline uint64_t soft_ram_load(const uint8_t *p, int size)
{
	uint64_t v = 0;
	if (((uintptr_t)p & (size - 1)) != 0)
		__builtin_memcpy(&v, p, (size_t)size);
	else if (size == 1)
		v = __atomic_load_n(p, __ATOMIC_RELAXED);
	else if (size == 2)
		v = __atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED);
	else if (size == 4)
		v = __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED);
	else if (size == 8)
		v = __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED);
	else
		__builtin_memcpy(&v, p, (size_t)size);
	return v;
}

static inline void soft_ram_store(uint8_t *p, int size, uint64_t v)
{
	if (((uintptr_t)p & (size - 1)) != 0)
		__builtin_memcpy(p, &v, (size_t)size);
	else if (size == 1)
		__atomic_store_n(p, (uint8_t)v, __ATOMIC_RELAXED);
	else if (size == 2)
		__atomic_store_n((uint16_t *)p, (uint16_t)v, __ATOMIC_RELAXED);
	else if (size == 4)
		__atomic_store_n((uint32_t *)p, (uint32_t)v, __ATOMIC_RELAXED);
	else if (size == 8)
		__atomic_store_n((uint64_t *)p, v, __ATOMIC_RELAXED);
	else
		__builtin_memcpy(p, &v, (size_t)size);
}

static inline uint64_t soft_mask(int size)
{
	return size == 8 ? ~0ull : (1ull << (size * 8)) - 1;
}
static inline uint64_t soft_sext(uint64_t v, int size)
{
	switch (size) {
	case 1: return (uint64_t)(int64_t)(int8_t)v;
	case 2: return (uint64_t)(int64_t)(int16_t)v;
	case 4: return (uint64_t)(int64_t)(int32_t)v;
	default: return v;
	}
}
static inline uint64_t soft_next_rip(struct accel_vcpu *c, const struct soft_insn *i)
{
	uint64_t n = c->rip + i->len;
	return c->mode64 ? n : c->code32 ? (uint32_t)n : (uint16_t)n;
}
void soft_push(struct accel_vcpu *c, int size, uint64_t v);
uint64_t soft_pop(struct accel_vcpu *c, int size);
uint64_t soft_stack_peek(struct accel_vcpu *c, int size, int at);
void soft_jump(struct accel_vcpu *c, uint64_t target, int osz);

/* handler tables (soft_exec_*.c) */
soft_exec_fn soft_op1(uint8_t op);
soft_exec_fn soft_op2(uint8_t op);
void soft_exec_grp_alu(struct accel_vcpu *c, struct soft_insn *i);
void soft_exec_string(struct accel_vcpu *c, struct soft_insn *i);
void soft_exec_sys1(struct accel_vcpu *c, struct soft_insn *i);
void soft_exec_sys2(struct accel_vcpu *c, struct soft_insn *i);
void soft_exec_sse(struct accel_vcpu *c, struct soft_insn *i);
void soft_exec_x87(struct accel_vcpu *c, struct soft_insn *i);
bool soft_simd(struct accel_vcpu *c, struct soft_insn *i);
bool soft_ssefp(struct accel_vcpu *c, struct soft_insn *i);
void soft_exec_ctl(struct accel_vcpu *c, struct soft_insn *i);
void soft_exec_ctl2(struct accel_vcpu *c, struct soft_insn *i);
void soft_exec_int(struct accel_vcpu *c, struct soft_insn *i);
void soft_exec_int2(struct accel_vcpu *c, struct soft_insn *i);
void soft_exec_unary(struct accel_vcpu *c, struct soft_insn *i);
void soft_check_io_perm(struct accel_vcpu *c, uint16_t port, int size);
void soft_exec_bits(struct accel_vcpu *c, struct soft_insn *i);

/* soft_seg.c */
void soft_load_seg(struct accel_vcpu *c, int seg, uint16_t sel);
void soft_load_seg_real(struct accel_vcpu *c, int seg, uint16_t sel);
uint64_t soft_read_desc(struct accel_vcpu *c, uint16_t sel, int vec, bool *ok);
void soft_desc_to_seg(uint64_t d, uint64_t d_hi, uint16_t sel, struct kvm_segment *s);
void soft_far_jump(struct accel_vcpu *c, uint16_t sel, uint64_t off, int osz, bool call,
		   uint64_t ret_rip);
void soft_far_ret(struct accel_vcpu *c, int osz, uint16_t pop_bytes);
void soft_iret(struct accel_vcpu *c, int osz);
void soft_set_desc_busy_or_accessed(struct accel_vcpu *c, uint16_t sel, uint8_t bit);
void soft_null_seg(struct kvm_segment *s, uint16_t sel);

/* soft_exc.c */
enum { INT_EXC, INT_SOFT, INT_HW, INT_ICEBP };
void soft_deliver(struct accel_vcpu *c, int vec, int kind, bool has_err, uint32_t err,
		  uint64_t ret_rip);

/* soft_sys.c */
void soft_write_cr(struct accel_vcpu *c, int cr, uint64_t v);
uint64_t soft_read_cr(struct accel_vcpu *c, int cr);
bool soft_rdmsr(struct accel_vcpu *c, uint32_t msr, uint64_t *v);
bool soft_wrmsr(struct accel_vcpu *c, uint32_t msr, uint64_t v);
void soft_cpuid(struct accel_vcpu *c, uint32_t leaf, uint32_t sub, uint32_t out[4]);
int soft_supported_cpuid(struct kvm_cpuid2 *cpuid);
extern const uint32_t soft_msr_list[];
extern const int soft_msr_count;

#endif
