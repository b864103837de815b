/* test_boot: the CPU-mode set-up. First on a plain buffer: the GDT
 * descriptors must say the same as the segment registers, and the long-mode page
 * tables must identity-map 0..4 GiB (checked by walking them as the CPU would).
 * Then, when /dev/kvm opens, each mode runs a few instructions on a bare vCPU
 * (no engine code involved) that reload selectors from the GDT, use the stack
 * and touch memory through the page tables, and report over port 0xf4. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/accel/accel.h"
#include "engine/boot/boot.h"
#include "util/err.h"
#include "tap.h"

#define RAM_SIZE (4ull << 20)

static uint64_t rd64(const struct guest_ram *r, uint64_t gpa)
{
	uint64_t v;
	memcpy(&v, r->host + gpa, 8);
	return v;
}

static int ram_is_zero(const struct guest_ram *r)
{
	for (uint64_t i = 0; i < r->size; i++)
		if (r->host[i])
			return 0;
	return 1;
}

/* What KVM defaults to after KVM_CREATE_VCPU, roughly: the fields a mode does
 * not concern must come through. */
static void default_sregs(struct kvm_sregs *s)
{
	memset(s, 0, sizeof(*s));
	s->cr0 = 0x60000010;
	s->idt.limit = 0xffff;
	s->tr.type = 11;
	s->tr.present = 1;
	s->tr.limit = 0xffff;
	s->apic_base = 0xfee00900;
}

/* The descriptor in guest RAM decoded, compared with what sregs claims. */
static int desc_matches(const struct guest_ram *r, const struct kvm_sregs *s,
			const struct kvm_segment *seg)
{
	uint64_t d = rd64(r, s->gdt.base + (seg->selector & ~7u));
	uint64_t base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
	uint64_t limit = (d & 0xffff) | (((d >> 48) & 0xf) << 16);
	unsigned g = (d >> 55) & 1;
	if (g)
		limit = (limit << 12) | 0xfff;
	return seg->selector + 7u <= s->gdt.limit && base == seg->base && limit == seg->limit &&
	       ((d >> 40) & 0xf) == seg->type && ((d >> 44) & 1) == seg->s &&
	       ((d >> 45) & 3) == seg->dpl && ((d >> 47) & 1) == seg->present &&
	       ((d >> 53) & 1) == seg->l && ((d >> 54) & 1) == seg->db && g == seg->g;
}

/* A 4-level walk with 2 MiB pages; ~0 when not mapped. */
static uint64_t walk(const struct guest_ram *r, uint64_t cr3, uint64_t va)
{
	uint64_t e = rd64(r, (cr3 & ~0xfffull) + ((va >> 39) & 511) * 8);
	if (!(e & 1))
		return ~0ull;
	e = rd64(r, (e & 0xffffffffff000ull) + ((va >> 30) & 511) * 8);
	if (!(e & 1) || (e & 0x80))
		return ~0ull;
	e = rd64(r, (e & 0xffffffffff000ull) + ((va >> 21) & 511) * 8);
	if (!(e & 1) || !(e & 0x80) || !(e & 2))
		return ~0ull;
	return (e & 0xfffffffe00000ull) | (va & 0x1fffff);
}

static void test_real(struct guest_ram *r)
{
	struct boot_plan p = { .mode = MODE_REAL16, .entry = 0x7c00 };
	struct kvm_regs regs;
	struct kvm_sregs s;

	default_sregs(&s);
	s.cr0 |= 1;
	s.efer = 0x500;
	int rc = boot_prepare(r, &p, &regs, &s);
	is_int(rc, 0, "real mode prepares");
	ok(s.cs.selector == 0 && s.cs.base == 0 && s.cs.limit == 0xffff && s.cs.type == 0xb &&
	   s.cs.present && s.cs.s && !s.cs.db, "real: CS = 0, 64 KiB code segment");
	ok(s.ds.selector == 0 && s.ss.base == 0 && s.es.type == 3 && s.gs.limit == 0xffff,
	   "real: data segments 0");
	is_int(regs.rip, 0x7c00, "real: IP = entry");
	is_int(regs.rsp, 0x7000, "real: SP = default stack");
	is_int(regs.rflags, 2, "real: RFLAGS = 2");
	is_int(s.cr0, 0x60000010, "real: PE cleared, other CR0 bits kept");
	is_int(s.efer, 0, "real: EFER cleared");
	is_int(s.idt.limit, 0xffff, "real: IDT untouched");
	ok(ram_is_zero(r), "real: nothing written to RAM");

	p.entry = 0x12345;
	p.stack = 0x9000;
	boot_prepare(r, &p, &regs, &s);
	ok(s.cs.selector == 0x1234 && s.cs.base == 0x12340 && regs.rip == 5 && regs.rsp == 0x9000,
	   "real: entry above 64 KiB -> CS 0x1234, IP 5");
	p.entry = 0x100000;
	ok(boot_prepare(r, &p, &regs, &s) == -EINVAL && strstr(err_msg(), "1 MiB"),
	   "real: entry above 1 MiB refused: %s", err_msg());
	p.entry = 0x7c00;
	p.stack = 0x20000;
	ok(boot_prepare(r, &p, &regs, &s) < 0, "real: stack above 64 KiB refused");
}

static void test_prot(struct guest_ram *r)
{
	struct boot_plan p = { .mode = MODE_PROT32, .entry = 0x100000, .rax = 0x2badb002,
			       .rbx = 0x9000, .rsi = 7 };
	struct kvm_regs regs;
	struct kvm_sregs s;

	default_sregs(&s);
	memset(r->host, 0, r->size);
	is_int(boot_prepare(r, &p, &regs, &s), 0, "protected mode prepares");
	is_int(s.gdt.base, BOOT_GDT_ADDR, "prot: GDT base");
	is_int(s.gdt.limit, 23, "prot: GDT has 3 entries");
	is_int(rd64(r, BOOT_GDT_ADDR), 0, "prot: null descriptor");
	is_int(rd64(r, BOOT_GDT_ADDR + 8), 0x00cf9b000000ffffull, "prot: flat 32-bit code at 0x08");
	is_int(rd64(r, BOOT_GDT_ADDR + 16), 0x00cf93000000ffffull, "prot: flat data at 0x10");
	ok(s.cs.selector == 8 && s.cs.db && s.cs.g && s.cs.limit == 0xffffffff && !s.cs.l,
	   "prot: CS 0x08, 32-bit, 4 GiB");
	ok(desc_matches(r, &s, &s.cs) && desc_matches(r, &s, &s.ds) && desc_matches(r, &s, &s.ss),
	   "prot: GDT descriptors agree with CS, DS, SS");
	ok(s.es.selector == 0x10 && s.fs.selector == 0x10 && s.gs.selector == 0x10, "prot: ES FS GS 0x10");
	is_int(s.cr0, 0x11, "prot: CR0 = PE|ET");
	ok(s.efer == 0 && s.cr4 == 0, "prot: EFER 0, CR4 0");
	ok(regs.rip == 0x100000 && regs.rsp == BOOT_DEFAULT_STACK && regs.rflags == 2,
	   "prot: RIP, RSP, RFLAGS");
	ok(regs.rax == 0x2badb002 && regs.rbx == 0x9000 && regs.rsi == 7, "prot: RAX RBX RSI from the plan");
	ok(s.tr.type == 11 && s.apic_base == 0xfee00900, "prot: TR and APIC base kept");

	struct guest_ram tiny = { r->host, 0x4000 };
	ok(boot_prepare(&tiny, &p, &regs, &s) < 0 && strstr(err_msg(), "boot area"),
	   "prot: boot area outside RAM refused: %s", err_msg());
}

static void test_long(struct guest_ram *r)
{
	struct boot_plan p = { .mode = MODE_LONG64, .entry = 0x100000, .stack = 0x90000 };
	struct kvm_regs regs;
	struct kvm_sregs s;

	default_sregs(&s);
	memset(r->host, 0, r->size);
	is_int(boot_prepare(r, &p, &regs, &s), 0, "long mode prepares");
	is_int(s.gdt.limit, 31, "long: GDT has 4 entries");
	is_int(rd64(r, BOOT_GDT_ADDR + 8), 0x00af9b000000ffffull, "long: 64-bit code at 0x08 (L=1)");
	is_int(rd64(r, BOOT_GDT_ADDR + 16), 0x00cf93000000ffffull, "long: data at 0x10");
	is_int(rd64(r, BOOT_GDT_ADDR + 24), 0x00cf9b000000ffffull, "long: 32-bit code at 0x18");
	ok(s.cs.l && !s.cs.db && s.cs.selector == 8, "long: CS.L = 1, D = 0");
	ok(desc_matches(r, &s, &s.cs) && desc_matches(r, &s, &s.ds), "long: descriptors agree with sregs");
	is_int(s.cr3, BOOT_PT_ADDR, "long: CR3 = PML4 at BOOT_PT_ADDR");
	is_int(s.cr4 & 0x20, 0x20, "long: CR4.PAE");
	is_int(s.cr0 & 0x80000011, 0x80000011, "long: CR0 = PE|ET|PG");
	is_int(s.efer, 0x500, "long: EFER = LME|LMA");
	is_int(regs.rsp, 0x90000, "long: RSP = plan stack");

	uint64_t pdpt = rd64(r, s.cr3) & ~0xfffull;
	ok(pdpt >= BOOT_PT_ADDR && pdpt + 0x1000 <= BOOT_AREA_END, "long: PDPT inside the boot area");
	int bad = 0;
	for (uint64_t va = 0; va < (4ull << 30); va += 0x1ff000 + 0x123)
		if (walk(r, s.cr3, va) != va)
			bad++;
	is_int(bad, 0, "long: 0..4 GiB identity-mapped (sampled walks)");
	ok(walk(r, s.cr3, 0xfee00000) == 0xfee00000 && walk(r, s.cr3, 0xffffffff) == 0xffffffff,
	   "long: LAPIC page and the last byte below 4 GiB mapped");
	ok(walk(r, s.cr3, 4ull << 30) == ~0ull && walk(r, s.cr3, 0xffffffff81000000ull) == ~0ull,
	   "long: nothing mapped at or above 4 GiB");
	int stray = 0;
	for (uint64_t a = 0; a < r->size; a++)
		if (r->host[a] && (a < BOOT_AREA_START || a >= BOOT_AREA_END))
			stray++;
	is_int(stray, 0, "long: nothing written outside the boot area");

	p.mode = (enum cpu_mode)7;
	ok(boot_prepare(r, &p, &regs, &s) < 0, "unknown mode refused");
	is_str(boot_mode_name(MODE_LONG64), "long64", "mode name");
}

/* --- on KVM ------------------------------------------------------------------ */

/* A VM of the accelerator the tests run on (HVWB_ACCEL, else the fastest
 * here), driven through the seam as the engine drives it. */
struct kvmbox {
	const struct accel_ops *a;
	struct accel_vm *vm;
	struct accel_vcpu *vcpu;
	struct kvm_run *run;
	struct guest_ram ram;
};

static void on_alarm(int sig)
{
	(void)sig;
}

static int kvm_open_box(struct kvmbox *k)
{
	memset(k, 0, sizeof(*k));
	if (accel_pick(getenv("HVWB_ACCEL"), &k->a) < 0 || k->a->vm_create(&k->vm) < 0)
		return -1;
	k->ram.size = RAM_SIZE;
	k->ram.host = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (k->ram.host == MAP_FAILED || k->a->set_memory(k->vm, 0, 0, 0, RAM_SIZE, k->ram.host) < 0)
		return -1;
	return k->a->vcpu_create(k->vm, 0, &k->vcpu, &k->run);
}

static void kvm_close_box(struct kvmbox *k)
{
	if (k->ram.host && k->ram.host != MAP_FAILED)
		munmap(k->ram.host, RAM_SIZE);
	if (k->vcpu)
		k->a->vcpu_destroy(k->vcpu);
	if (k->vm)
		k->a->vm_destroy(k->vm);
}

static int kvm_boot(struct kvmbox *k, const struct boot_plan *p)
{
	struct kvm_regs regs;
	struct kvm_sregs s;
	if (k->a->get_sregs(k->vcpu, &s) < 0 || boot_prepare(&k->ram, p, &regs, &s) < 0)
		return -1;
	if (k->a->set_sregs(k->vcpu, &s) < 0 || k->a->set_regs(k->vcpu, &regs) < 0)
		return -1;
	return 0;
}

/* Runs to the next exit that is not an MMIO read; returns the exit reason and,
 * for port 0xf4 writes, the value. */
static int kvm_next(struct kvmbox *k, uint64_t *val)
{
	for (;;) {
		alarm(10);
		int rc = k->a->vcpu_run(k->vcpu);
		alarm(0);
		if (rc < 0)
			return rc;
		struct kvm_run *r = k->run;
		if (r->exit_reason == KVM_EXIT_IO && r->io.direction == KVM_EXIT_IO_OUT) {
			*val = 0;
			memcpy(val, (uint8_t *)r + r->io.data_offset, r->io.size);
			return KVM_EXIT_IO;
		}
		if (r->exit_reason == KVM_EXIT_MMIO) {
			*val = r->mmio.phys_addr;
			if (!r->mmio.is_write)
				continue;
			return KVM_EXIT_MMIO;
		}
		return (int)r->exit_reason;
	}
}

/* Each guest ends writing 0xaa to port 0xf4 (then halts): the VM has its
 * interrupt controllers, so a hlt waits for an interrupt instead of exiting. */
static void ends(struct kvmbox *k, const char *mode)
{
	uint64_t v = 0;
	int e = kvm_next(k, &v);
	ok(e == KVM_EXIT_IO && v == 0xaa, "%s %s: runs to its end (exit %d, 0x%llx)", k->a->name, mode, e,
	   (unsigned long long)v);
}

static void kvm_real(void)
{
	struct kvmbox k;
	uint64_t v = 0;
	int e;
	/* mov ax, cs; out 0xf4, ax; mov ax, sp; out 0xf4, ax; mov al, 0xaa; out 0xf4, al; hlt */
	static const uint8_t code[] = { 0x8c, 0xc8, 0xe7, 0xf4, 0x89, 0xe0, 0xe7, 0xf4,
					0xb0, 0xaa, 0xe6, 0xf4, 0xf4 };
	struct boot_plan p = { .mode = MODE_REAL16, .entry = 0x12340 };
	ok(kvm_open_box(&k) == 0, "the accelerator makes a VM and a vCPU");
	memcpy(k.ram.host + 0x12340, code, sizeof(code));
	ok(kvm_boot(&k, &p) == 0, "KVM real: registers accepted");
	e = kvm_next(&k, &v);
	ok(e == KVM_EXIT_IO && v == 0x1234, "KVM real: runs at CS 0x1234 (got 0x%llx)",
	   (unsigned long long)v);
	e = kvm_next(&k, &v);
	ok(e == KVM_EXIT_IO && v == 0x7000, "KVM real: SP 0x7000 (got 0x%llx)",
	   (unsigned long long)v);
	ends(&k, "real");
	kvm_close_box(&k);
}

static void kvm_prot(void)
{
	struct kvmbox k;
	uint64_t v = 0;
	int e;
	static const uint8_t code[] = {
		0xea, 0x07, 0x00, 0x10, 0x00, 0x08, 0x00,   /* ljmp 0x08:0x100007 */
		0xb8, 0x10, 0x00, 0x00, 0x00,               /* mov eax, 0x10 */
		0x8e, 0xd8, 0x8e, 0xd0,                     /* mov ds, ax; mov ss, ax */
		0xa1, 0x00, 0x01, 0x10, 0x00,               /* mov eax, [0x100100] */
		0xe7, 0xf4,                                 /* out 0xf4, eax */
		0x53, 0x58,                                 /* push ebx; pop eax */
		0xe7, 0xf4,                                 /* out 0xf4, eax */
		0xb0, 0xaa, 0xe6, 0xf4,                     /* mov al, 0xaa; out 0xf4, al */
		0xf4,                                       /* hlt */
	};
	struct boot_plan p = { .mode = MODE_PROT32, .entry = 0x100000, .rbx = 0x2badb002 };
	ok(kvm_open_box(&k) == 0, "the accelerator makes a VM and a vCPU");
	memcpy(k.ram.host + 0x100000, code, sizeof(code));
	uint32_t magic = 0xcafebabe;
	memcpy(k.ram.host + 0x100100, &magic, 4);
	ok(kvm_boot(&k, &p) == 0, "KVM prot: registers accepted");
	e = kvm_next(&k, &v);
	ok(e == KVM_EXIT_IO && v == 0xcafebabe,
	   "KVM prot: far jump and selector loads through the GDT, memory read (got 0x%llx)",
	   (unsigned long long)v);
	e = kvm_next(&k, &v);
	ok(e == KVM_EXIT_IO && v == 0x2badb002, "KVM prot: stack and EBX (got 0x%llx)",
	   (unsigned long long)v);
	ends(&k, "prot");
	kvm_close_box(&k);
}

static void kvm_long(void)
{
	struct kvmbox k;
	uint64_t v = 0;
	int e;
	static const uint8_t code[] = {
		0xa3, 0x00, 0x00, 0x00, 0xd0, 0, 0, 0, 0,   /* mov [0xd0000000], eax */
		0x50, 0x5b, 0x89, 0xd8,                     /* push rax; pop rbx; mov eax, ebx */
		0xe7, 0xf4,                                 /* out 0xf4, eax */
		0x66, 0xb8, 0x10, 0x00, 0x8e, 0xd8,         /* mov ax, 0x10; mov ds, ax */
		0x8b, 0x04, 0x25, 0x00, 0x00, 0x30, 0x00,   /* mov eax, [0x300000] */
		0xe7, 0xf4,                                 /* out 0xf4, eax */
		0x48, 0x89, 0xe0, 0xe7, 0xf4,               /* mov rax, rsp; out 0xf4, eax */
		0xb0, 0xaa, 0xe6, 0xf4,                     /* mov al, 0xaa; out 0xf4, al */
		0xf4,                                       /* hlt */
	};
	struct boot_plan p = { .mode = MODE_LONG64, .entry = 0x100000, .rax = 0x11223344 };
	ok(kvm_open_box(&k) == 0, "the accelerator makes a VM and a vCPU");
	memcpy(k.ram.host + 0x100000, code, sizeof(code));
	uint32_t magic = 0x55667788;
	memcpy(k.ram.host + 0x300000, &magic, 4);
	ok(kvm_boot(&k, &p) == 0, "KVM long: registers accepted");
	e = kvm_next(&k, &v);
	ok(e == KVM_EXIT_MMIO && v == 0xd0000000,
	   "KVM long: write to 0xd0000000 reaches physical 0xd0000000 (got 0x%llx)", (unsigned long long)v);
	e = kvm_next(&k, &v);
	ok(e == KVM_EXIT_IO && v == 0x11223344, "KVM long: RAX and the stack (got 0x%llx)",
	   (unsigned long long)v);
	e = kvm_next(&k, &v);
	ok(e == KVM_EXIT_IO && v == 0x55667788,
	   "KVM long: DS reload and a read through the second 2 MiB page (got 0x%llx)",
	   (unsigned long long)v);
	e = kvm_next(&k, &v);
	ok(e == KVM_EXIT_IO && v == BOOT_DEFAULT_STACK, "KVM long: RSP (got 0x%llx)",
	   (unsigned long long)v);
	ends(&k, "long");
	kvm_close_box(&k);
}

int main(void)
{
	struct guest_ram r = { calloc(1, RAM_SIZE), RAM_SIZE };
	tap_plan(64);
	test_real(&r);
	test_prot(&r);
	test_long(&r);
	free(r.host);

	struct sigaction sa = { .sa_handler = on_alarm };
	sigaction(SIGALRM, &sa, NULL);
	kvm_real();
	kvm_prot();
	kvm_long();
	return tap_done();
}
