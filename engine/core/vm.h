/* vm: the engine's public face. A VM owns its KVM fds, its guest RAM (a memfd
 * mapped shared, allocated lazily by the kernel), its vCPU threads and its own
 * device bus. Every call here is made from the main thread; vCPU threads only
 * run guests. Inspection and changes happen with the VM not running. */
#ifndef HVWB_VM_H
#define HVWB_VM_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/boot/cpuid.h"
#include "devices/bus.h"
#include "engine/core/guestmem.h"
#include "engine/boot/linux.h"
#include "engine/boot/loader.h"
#include "engine/core/stats.h"
#include "engine/debug/symbols.h"

#define HVWB_VERSION "0.1.0"

enum vm_state { VM_CREATED, VM_RUNNING, VM_PAUSED, VM_HALTED, VM_EXITED, VM_CRASHED };

enum stop_kind {
	STOP_NONE,      /* has not stopped yet */
	STOP_PAUSE,     /* vm_pause() */
	STOP_TIMEOUT,   /* vm_run()'s time ran out: the VM is paused */
	STOP_INTERRUPT, /* the waiting caller was interrupted (Ctrl-C): paused */
	STOP_HLT,       /* every vCPU halted with interrupts off */
	STOP_EXIT,      /* the guest wrote the debug-exit port */
	STOP_CRASH,     /* triple fault, emulation failure, unknown exit... */
	STOP_STEP,      /* vm_step() executed its instructions: paused */
	STOP_BREAKPOINT,/* a breakpoint was reached (not yet executed): paused */
	STOP_WATCH,     /* a watched location was accessed: paused */
	STOP_KINDS      /* how many kinds there are (snapshot files are checked against it) */
};

struct vm_stop {
	enum stop_kind kind;
	int vcpu;               /* the vCPU that caused it, -1 for host-made stops */
	int64_t exit_code;      /* STOP_EXIT */
	uint32_t kvm_exit;      /* KVM exit reason behind a crash */
	uint64_t rip;           /* where the vCPU was */
	uint8_t insn[16];       /* crash: instruction bytes at rip, when known */
	unsigned insn_len;
	char insn_text[64];     /* crash: those bytes disassembled, when known; for a
				   stop that leaves a vCPU at an instruction, that one */
	char symbol[96];        /* "kmain+0x4" for rip, when the VM has symbols */
	char reason[512];       /* a sentence a person can read */
	int breakpoint;         /* STOP_BREAKPOINT, STOP_WATCH: the id */
	uint64_t steps;         /* STOP_STEP (and any stop during a step): instructions done */
	uint64_t watch_addr;    /* STOP_WATCH: the watched address, old and new value */
	uint64_t watch_old, watch_new;
	uint64_t watch_pc;      /* STOP_WATCH: linear address of the instruction that
				   wrote, when known (software watchpoints), else 0 */
};

struct vm_config {
	const char *name;       /* NULL: "vmN" */
	uint64_t mem_size;      /* bytes, page aligned */
	int vcpus;              /* 1..vm_max_vcpus() */
	const char *accel;      /* "kvm", "soft"; NULL or "auto": kvm where usable, else soft */
};

struct vm;

/* How many vCPUs a VM may have on accelerator `accel` (NULL: the default). */
int vm_max_vcpus(const char *accel);
/* The accelerator the VM runs on: "kvm" or "soft". */
const char *vm_accel(const struct vm *vm);

/* What an accelerator can do on this host. */
struct vm_accel_info {
	const char *name;             /* "kvm" or "soft" */
	bool usable;                  /* it can make VMs here; else why says why */
	char why[256];
	int max_vcpus;
	const struct host_probe *debug; /* stepping and breakpoints, probed (debug/probe.h) */
};
/* The accelerators of this build, fastest first, into out[0..n); returns how
 * many there are. The first usable one is what new VMs get by default. */
int vm_accels(struct vm_accel_info *out, int n);

int vm_create(const struct vm_config *cfg, struct vm **out);
/* Stops the VM's threads and frees everything it owns. Any state. */
void vm_destroy(struct vm *vm);

/* Every VM that exists, oldest first; returns the count (may exceed max). */
size_t vm_list(struct vm **out, size_t max);
struct vm *vm_find(const char *name);

const char *vm_name(const struct vm *vm);
int vm_vcpu_count(const struct vm *vm);
uint64_t vm_mem_size(const struct vm *vm);
enum vm_state vm_state(struct vm *vm);
const char *vm_state_name(enum vm_state s);
const char *vm_stop_kind_name(enum stop_kind k);
/* The stop that ended the last run (kind STOP_NONE if it never stopped). */
void vm_last_stop(struct vm *vm, struct vm_stop *out);
/* Grows by one each time the VM stops: lets a reader notice stops it missed. */
uint64_t vm_stop_count(struct vm *vm);

/* Puts a program into the VM (loader.h) and vCPU 0 at its entry; the VM
 * becomes `created` again from any state but running. Symbols are kept. */
int vm_load(struct vm *vm, const char *path, const struct load_opts *opts);
struct symtab *vm_symbols(struct vm *vm);

/* Boots a Linux kernel (vm_linux.c, linux.h): a bzImage or vmlinux, an initrd,
 * a command line; symbols from `symbols` (System.map or ELF) or found (see
 * vm_linux.c) are added to the VM's. The VM becomes `created`. */
struct vm_linux_opts {
	const char *kernel, *initrd, *cmdline, *symbols;  /* kernel required */
	enum linux_how how;
};
int vm_load_linux(struct vm *vm, const struct vm_linux_opts *o, struct linux_info *info);

/* Starts (or resumes) the vCPUs in the background. From created, paused or halted. */
int vm_start(struct vm *vm);
/* Waits until the VM stops or timeout_ms passes (< 0: no limit). On timeout
 * the VM is paused and the stop is STOP_TIMEOUT. Serves host calls meanwhile. */
int vm_wait(struct vm *vm, int64_t timeout_ms, struct vm_stop *out);
/* vm_start then vm_wait. */
int vm_run(struct vm *vm, int64_t timeout_ms, struct vm_stop *out);
/* Kicks the vCPUs out of the guest and parks them. No-op unless running. */
int vm_pause(struct vm *vm);
int vm_resume(struct vm *vm);

/* Guest-physical memory. -EFAULT with a message when outside RAM. */
int vm_mem_read(struct vm *vm, uint64_t gpa, void *buf, size_t len);
int vm_mem_write(struct vm *vm, uint64_t gpa, const void *buf, size_t len);
/* The low RAM mapping (guest-physical 0 up to the PCI hole) for loaders. */
struct guest_ram vm_ram(struct vm *vm);

/* Registers of a vCPU; -EBUSY while the VM runs. */
int vm_get_regs(struct vm *vm, int vcpu, struct kvm_regs *regs);
int vm_set_regs(struct vm *vm, int vcpu, const struct kvm_regs *regs);
int vm_get_sregs(struct vm *vm, int vcpu, struct kvm_sregs *sregs);
int vm_set_sregs(struct vm *vm, int vcpu, const struct kvm_sregs *sregs);
/* vm_set_regs and vm_set_sregs refuse what a CPU would not hold (the checks
 * below, with the register and its bits named), then read the registers back:
 * a value the accelerator did not keep is reported (-EIO) and the registers
 * are put back as they were. vm_set_regs checks RIP against the vCPU's
 * current mode; vm_set_cpu sets both sets, checking RIP against the new one. */
int vm_set_cpu(struct vm *vm, int vcpu, const struct kvm_regs *regs, const struct kvm_sregs *sregs);
/* RFLAGS (bit 1 set; 3, 5, 15, 63..22 clear) and, with s, RIP for that mode. */
int vm_check_regs(const struct kvm_regs *r, const struct kvm_sregs *s);
/* RIP canonical in 64-bit code, 32 bits wide otherwise. */
int vm_check_rip(const struct kvm_sregs *s, uint64_t rip);
/* CR0, CR4, CR8, EFER reserved bits and consistency (PG needs PE, LMA is
 * LME && PG, long mode needs PAE), canonical fs/gs/tr/ldt/gdtr/idtr bases,
 * cs L with DB, ss.dpl == cs.dpl in protected mode. */
int vm_check_sregs(const struct kvm_sregs *s);
/* Readback comparisons (-EIO naming the register and bits that differ). */
int vm_regs_readback(const struct kvm_regs *want, const struct kvm_regs *got);
int vm_sregs_readback(const struct kvm_sregs *want, const struct kvm_sregs *got);
bool vm_canonical(uint64_t addr);
/* "31, 15..12": the set bits of a mask, for messages. */
void vm_bits_text(uint64_t bits, char *buf, size_t cap);

/* CPUID (vm_cpuid.c): hides features (cpuid.h) from every vCPU; only before
 * the VM's first run. vm_cpuid_get gives vCPU's table, to free(). */
int vm_cpuid_hide(struct vm *vm, cpuid_hidden_t hidden);
cpuid_hidden_t vm_cpuid_hidden(const struct vm *vm);
int vm_cpuid_get(struct vm *vm, int vcpu, struct kvm_cpuid2 **out);

struct bus *vm_bus(struct vm *vm);
/* The struct a device model gets to raise IRQs and stop or crash the VM. */
const struct device_host *vm_device_host(struct vm *vm);

/* Serial console (the UART at 0x3f8). */
size_t vm_serial_output(struct vm *vm, char *buf, size_t cap);
uint64_t vm_serial_total(struct vm *vm);
void vm_serial_clear(struct vm *vm);
size_t vm_serial_input(struct vm *vm, const void *data, size_t len);

struct vm_stats {
	int nvcpus;
	struct vcpu_stats total;     /* all vCPUs summed */
	struct vcpu_stats *vcpu;     /* nvcpus entries, owned by the caller: vm_stats_free */
	uint64_t mem_size;
	uint64_t resident_bytes;     /* guest RAM the host has really allocated */
	uint64_t run_ns;             /* wall time spent in state running */
	uint64_t created_ns;         /* stats_now_ns() at creation */
};
int vm_stats(struct vm *vm, struct vm_stats *out);
void vm_stats_free(struct vm_stats *st);
/* KVM's binary statistics for the VM (vcpu < 0) or one vCPU. */
int vm_kvm_stats(struct vm *vm, int vcpu, void (*fn)(void *arg, const char *name, uint64_t value),
		 void *arg);

/* Parses "64M", "2G", "512K", "1048576": a page-aligned size of at least 1 MiB. */
int vm_parse_size(const char *text, uint64_t *out);

/* Sleeps while serving host calls (script devices of running VMs).
 * 0, or -EINTR if interrupted (vm_interrupt_waits). */
int vm_sleep_ms(int64_t ms);

/* Makes the current or next wait of the main thread return STOP_INTERRUPT.
 * Async-signal-safe: meant for a SIGINT handler. */
void vm_interrupt_waits(void);
/* Forgets an interrupt no wait has taken (one meant for Lua code, say). */
void vm_interrupt_clear(void);

#endif
