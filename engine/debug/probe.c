/* probe: each test is a fresh 2 MiB VM with one vCPU in 64-bit long mode with
 * paging (a host like PVM runs ring-3 code natively only then), running this
 * code at 0x1000 at ring 0 or ring 3:
 *     nop; nop; mov [0x2000], eax; nop; out 0xf4, al
 * and looking at the first exit: the answer the accelerator gives is the fact
 * we record, for each accelerator (KVM differs between hosts; soft does not). */
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "engine/debug/probe.h"
#include "engine/accel/accel.h"

#define CODE 0x1000
#define DATA 0x2000
#define PML4 0x10000   /* then the PDPT and one PD: 2 MiB identity, user-accessible */
#define RAM (2u << 20)

static const unsigned char probe_code[] = {
	0x90, 0x90, 0x89, 0x04, 0x25, 0x00, 0x20, 0x00, 0x00, 0x90, 0xe6, 0xf4,
};

enum probe_test { T_STEP, T_BREAK, T_WATCH, T_INT3 };

struct probe_vm {
	const struct accel_ops *a;
	struct accel_vm *vm;
	struct accel_vcpu *cpu;
	uint8_t *mem;
	struct kvm_run *run;
};

static void flat_segment(struct kvm_segment *s, uint16_t sel, uint8_t type, int dpl, bool code)
{
	*s = (struct kvm_segment){ .base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
				   .present = 1, .dpl = (uint8_t)dpl, .db = !code, .l = code, .s = 1, .g = 1 };
}

static void write_page_tables(uint8_t *mem)
{
	const uint64_t user_rw_present = 0x7;
	uint64_t *pml4 = (uint64_t *)(mem + PML4), *pdpt = pml4 + 512, *pd = pdpt + 512;
	pml4[0] = (PML4 + 0x1000) | user_rw_present;
	pdpt[0] = (PML4 + 0x2000) | user_rw_present;
	pd[0] = 0x80 | user_rw_present; /* PS: one 2 MiB page at 0 */
}

static int probe_cpuid(struct probe_vm *p)
{
	struct {
		struct kvm_cpuid2 head;
		struct kvm_cpuid_entry2 e[256];
	} c;
	memset(&c, 0, sizeof(c));
	c.head.nent = 256;
	int r = p->a->supported_cpuid(&c.head);
	return r < 0 ? r : p->a->set_cpuid(p->cpu, &c.head);
}

static int probe_setup(struct probe_vm *p, const struct accel_ops *a, int ring)
{
	memset(p, 0, sizeof(*p));
	p->a = a;
	p->mem = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p->mem == MAP_FAILED || a->vm_create(&p->vm) < 0)
		return -1;
	memcpy(p->mem + CODE, probe_code, sizeof(probe_code));
	write_page_tables(p->mem);
	struct kvm_sregs s;
	if (a->set_memory(p->vm, 0, 0, 0, RAM, p->mem) < 0 || a->vcpu_create(p->vm, 0, &p->cpu, &p->run) < 0 ||
	    probe_cpuid(p) < 0 || a->get_sregs(p->cpu, &s) < 0)
		return -1;
	int rpl = ring ? 3 : 0;
	flat_segment(&s.cs, (uint16_t)(0x08 | rpl), 0xb, rpl, true);
	flat_segment(&s.ds, (uint16_t)(0x10 | rpl), 0x3, rpl, false);
	s.es = s.fs = s.gs = s.ss = s.ds;
	s.cr0 = 0x80000011; /* PG, ET, PE */
	s.cr3 = PML4;
	s.cr4 = 0x20;       /* PAE */
	s.efer = 0x500;     /* LME, LMA */
	struct kvm_regs regs = { .rip = CODE, .rsp = 0x3000, .rflags = 0x3002 /* IOPL 3 */ };
	return a->set_sregs(p->cpu, &s) < 0 || a->set_regs(p->cpu, &regs) < 0 ? -1 : 0;
}

static void probe_teardown(struct probe_vm *p)
{
	if (p->cpu)
		p->a->vcpu_destroy(p->cpu);
	if (p->vm)
		p->a->vm_destroy(p->vm);
	if (p->mem && p->mem != MAP_FAILED)
		munmap(p->mem, RAM);
}

static void arm(struct probe_vm *p, enum probe_test t)
{
	struct kvm_guest_debug g;
	memset(&g, 0, sizeof(g));
	g.control = KVM_GUESTDBG_ENABLE;
	if (t == T_STEP)
		g.control |= KVM_GUESTDBG_SINGLESTEP;
	if (t == T_BREAK || t == T_WATCH) {
		g.control |= KVM_GUESTDBG_USE_HW_BP;
		g.arch.debugreg[0] = t == T_BREAK ? CODE + 1 : DATA;
		/* L0; for the watch also RW0 = write (01) and LEN0 = 4 bytes (11) */
		g.arch.debugreg[7] = t == T_BREAK ? 1 : 1 | (1u << 16) | (3u << 18);
	}
	if (t == T_INT3) {
		g.control |= KVM_GUESTDBG_USE_SW_BP;
		p->mem[CODE + 1] = 0xcc;
	}
	p->a->set_guest_debug(p->cpu, &g);
}

/* Runs until the first exit that is not an interruption; returns it. */
static uint32_t first_exit(struct probe_vm *p)
{
	for (int tries = 0; tries < 8; tries++) {
		if (p->a->vcpu_run(p->cpu) == 0)
			return p->run->exit_reason;
	}
	return KVM_EXIT_UNKNOWN;
}

static void probe_ring(const struct accel_ops *a, int ring, struct probe_ring *out)
{
	for (enum probe_test t = T_STEP; t <= T_INT3; t++) {
		struct probe_vm p;
		uint32_t e = KVM_EXIT_UNKNOWN;
		if (probe_setup(&p, a, ring) == 0) {
			arm(&p, t);
			e = first_exit(&p);
		}
		bool dbg = e == KVM_EXIT_DEBUG && p.run;
		if (t == T_STEP)
			out->step = dbg && (p.run->debug.arch.dr6 & 0x4000);
		else if (t == T_BREAK)
			out->hw_break = dbg && (p.run->debug.arch.dr6 & 1);
		else if (t == T_WATCH)
			out->hw_watch = dbg && (p.run->debug.arch.dr6 & 1);
		else
			out->int3 = dbg ? INT3_DEBUG_EXIT : e == KVM_EXIT_INTERNAL_ERROR ? INT3_EMULATION_FAILURE :
				    e == KVM_EXIT_SHUTDOWN || e == KVM_EXIT_IO ? INT3_TO_GUEST : INT3_UNKNOWN;
		probe_teardown(&p);
	}
}

/* One answer per accelerator, found the first time it is asked for. */
static struct host_probe results[4];
static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;

static void probe_all(const struct accel_ops *a, struct host_probe *out)
{
	if (accel_usable(a) < 0)
		return;
	probe_ring(a, 0, &out->ring[0]);
	probe_ring(a, 3, &out->ring[3]);
	out->block_irq = (a->check_cap(KVM_CAP_SET_GUEST_DEBUG2) & KVM_GUESTDBG_BLOCKIRQ) != 0;
	out->done = true;
}

const struct host_probe *probe_accel(const struct accel_ops *a)
{
	int i = 0;
	while (accel_all[i] && accel_all[i] != a)
		i++;
	static const struct host_probe none;
	if (!accel_all[i] || i >= (int)(sizeof(results) / sizeof(results[0])))
		return &none;
	pthread_mutex_lock(&probe_lock);
	if (!results[i].done)
		probe_all(a, &results[i]);
	pthread_mutex_unlock(&probe_lock);
	return &results[i];
}

const char *probe_int3_name(enum probe_int3 v)
{
	switch (v) {
	case INT3_DEBUG_EXIT: return "debug-exit";
	case INT3_EMULATION_FAILURE: return "emulation-failure";
	case INT3_TO_GUEST: return "delivered-to-guest";
	default: return "unknown";
	}
}
