/* soft_msr: the model-specific registers and CPUID of the soft CPU. CPUID
 * describes what this CPU implements (its own feature list, never the
 * host's): the guest's CPUID instruction reads the table the VMM set with
 * set_cpuid, and supported_cpuid offers the full list. MSRs not listed here
 * raise #GP, as on a CPU without them. */
#include <errno.h>
#include <string.h>

#include "engine/accel/soft/soft_cpu.h"

const uint32_t soft_msr_list[] = {
	0x10, 0x1b, 0x3b, 0x174, 0x175, 0x176, 0x1a0, 0x277, 0x2ff, 0x6e0,
	0xc0000080, 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084,
	0xc0000100, 0xc0000101, 0xc0000102, 0xc0000103,
	0x200, 0x201, 0x202, 0x203, 0x204, 0x205, 0x206, 0x207,
	0x208, 0x209, 0x20a, 0x20b, 0x20c, 0x20d, 0x20e, 0x20f,
	0x250, 0x258, 0x259, 0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f,
};
const int soft_msr_count = sizeof(soft_msr_list) / sizeof(soft_msr_list[0]);

static bool mtrr_msr(uint32_t msr)
{
	return (msr >= 0x200 && msr <= 0x20f) || msr == 0x250 || msr == 0x258 || msr == 0x259 ||
	       (msr >= 0x268 && msr <= 0x26f) || msr == 0x2ff;
}

bool soft_rdmsr(struct accel_vcpu *c, uint32_t msr, uint64_t *v)
{
	struct irqchip *chip = c->vm->chip;
	switch (msr) {
	case 0x10: *v = soft_tsc(c); return true;
	case 0x1b: *v = irqchip_get_apic_base(chip, c->index); return true;
	case 0x3b: *v = 0; return true; /* TSC_ADJUST */
	case 0x8b: *v = 0; return true; /* BIOS_SIGN_ID: microcode revision 0 */
	case 0xfe: *v = 0x508; return true; /* MTRRcap: 8 variable, fixed, WC */
	case 0x179: *v = 0; return true;     /* MCG_CAP: no machine-check banks */
	case 0x17a: *v = 0; return true;     /* MCG_STATUS */
	case 0x174: *v = c->sysenter_cs; return true;
	case 0x175: *v = c->sysenter_esp; return true;
	case 0x176: *v = c->sysenter_eip; return true;
	case 0x1a0: *v = c->misc_enable; return true;
	case 0x277: *v = c->pat; return true;
	case 0x6e0: *v = irqchip_get_tsc_deadline(chip, c->index); return true;
	case 0xc0000080: *v = c->efer; return true;
	case 0xc0000081: *v = c->star; return true;
	case 0xc0000082: *v = c->lstar; return true;
	case 0xc0000083: *v = c->cstar; return true;
	case 0xc0000084: *v = c->sfmask; return true;
	case 0xc0000100: *v = c->seg[S_FS].base; return true;
	case 0xc0000101: *v = c->seg[S_GS].base; return true;
	case 0xc0000102: *v = c->kgsbase; return true;
	case 0xc0000103: *v = c->tsc_aux; return true;
	}
	if (mtrr_msr(msr)) {
		*v = c->mtrr[msr - 0x200];
		return true;
	}
	if (msr >= 0x800 && msr <= 0x8ff)
		return irqchip_rdmsr_x2apic(chip, c->index, msr, v);
	return false;
}

static bool canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

static bool write_efer(struct accel_vcpu *c, uint64_t v)
{
	if (v & ~(uint64_t)(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE))
		return false;
	if ((c->cr0 & CR0_PG) && ((v ^ c->efer) & EFER_LME))
		return false;
	v = (v & ~(uint64_t)EFER_LMA) | (c->efer & EFER_LMA);
	if ((v ^ c->efer) & EFER_NXE)
		soft_tlb_flush(c, false);
	c->efer = v;
	return true;
}

bool soft_wrmsr(struct accel_vcpu *c, uint32_t msr, uint64_t v)
{
	struct irqchip *chip = c->vm->chip;
	switch (msr) {
	case 0x10: c->tsc_offset += (int64_t)(v - soft_tsc(c)); return true;
	case 0x1b:
		if (v & (1u << 10)) {
			uint32_t id[4];
			soft_cpuid(c, 1, 0, id);
			if (!(id[2] & (1u << 21)))
				return false; /* x2APIC hidden from CPUID: #GP */
		}
		return irqchip_set_apic_base(chip, c->index, v);
	case 0x3b: return true;
	case 0x8b: return true;
	case 0x17a: return v == 0;
	case 0x174: c->sysenter_cs = v & 0xffff; return true;
	case 0x175: if (!canonical(v)) return false; c->sysenter_esp = v; return true;
	case 0x176: if (!canonical(v)) return false; c->sysenter_eip = v; return true;
	case 0x1a0: c->misc_enable = v; return true;
	case 0x277: c->pat = v; return true;
	case 0x6e0: irqchip_set_tsc_deadline(chip, c->index, v); return true;
	case 0xc0000080: return write_efer(c, v);
	case 0xc0000081: c->star = v; return true;
	case 0xc0000082: if (!canonical(v)) return false; c->lstar = v; return true;
	case 0xc0000083: if (!canonical(v)) return false; c->cstar = v; return true;
	case 0xc0000084: c->sfmask = v & 0xffffffff; return true;
	case 0xc0000100: if (!canonical(v)) return false; c->seg[S_FS].base = v; return true;
	case 0xc0000101: if (!canonical(v)) return false; c->seg[S_GS].base = v; return true;
	case 0xc0000102: if (!canonical(v)) return false; c->kgsbase = v; return true;
	case 0xc0000103: c->tsc_aux = (uint32_t)v; return true;
	}
	if (mtrr_msr(msr)) {
		c->mtrr[msr - 0x200] = v;
		return true;
	}
	if (msr >= 0x800 && msr <= 0x8ff) {
		/* like an xAPIC MMIO write: a lower TPR or an EOI may let an interrupt in */
		atomic_store_explicit(&c->work, 1, memory_order_relaxed);
		return irqchip_wrmsr_x2apic(chip, c->index, msr, v);
	}
	return false;
}

/* ---- CPUID ---- */

#define SIG 0x000006f1u /* family 6, model 15, stepping 1 */

static void leaf(struct kvm_cpuid_entry2 *e, uint32_t fn, uint32_t idx, bool indexed,
		 uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
	memset(e, 0, sizeof(*e));
	e->function = fn;
	e->index = idx;
	e->flags = indexed ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
	e->eax = a;
	e->ebx = b;
	e->ecx = c;
	e->edx = d;
}

static uint32_t str4(const char *s)
{
	uint32_t v;
	memcpy(&v, s, 4);
	return v;
}

/* The soft CPU's feature list. */
static int build(struct kvm_cpuid_entry2 *e)
{
	int n = 0;
	/* leaf 1: edx FPU PSE TSC MSR PAE CX8 APIC SEP MTRR PGE CMOV PAT CLFSH MMX FXSR SSE SSE2;
	 * ecx CX16 POPCNT TSC-deadline XSAVE hypervisor */
	uint32_t edx1 = 1u << 0 | 1u << 3 | 1u << 4 | 1u << 5 | 1u << 6 | 1u << 8 | 1u << 9 |
			1u << 11 | 1u << 12 | 1u << 13 | 1u << 15 | 1u << 16 | 1u << 19 |
			1u << 23 | 1u << 24 | 1u << 25 | 1u << 26;
	uint32_t ecx1 = 1u << 13 | 1u << 21 | 1u << 23 | 1u << 24 | 1u << 26 | 1u << 31;
	leaf(&e[n++], 0, 0, false, 0x16, str4("Genu"), str4("ntel"), str4("ineI"));
	leaf(&e[n++], 1, 0, false, SIG, 0x00010800, ecx1, edx1);
	leaf(&e[n++], 7, 0, true, 0, 0, 0, 0);
	leaf(&e[n++], 0xd, 0, true, 3, 576, 576, 0);
	leaf(&e[n++], 0xd, 1, true, 0, 0, 0, 0);
	/* the TSC counts at SOFT_TSC_HZ: say so (crystal = TSC), so guests need no calibration */
	leaf(&e[n++], 0x15, 0, false, 1, 1, (uint32_t)SOFT_TSC_HZ, 0);
	leaf(&e[n++], 0x16, 0, false, (uint32_t)(SOFT_TSC_HZ / 1000000), (uint32_t)(SOFT_TSC_HZ / 1000000), 0, 0);
	leaf(&e[n++], 0x80000000, 0, false, 0x80000008, 0, 0, 0);
	/* ecx LAHF-LM; edx SYSCALL NX 1G-pages RDTSCP LM */
	leaf(&e[n++], 0x80000001, 0, false, 0, 0, 1u << 0,
	     1u << 11 | 1u << 20 | 1u << 26 | 1u << 27 | 1u << 29);
	const char *brand = "hvwb soft x86-64 CPU                            ";
	for (int k = 0; k < 3; k++)
		leaf(&e[n++], 0x80000002 + k, 0, false, str4(brand + 16 * k), str4(brand + 16 * k + 4),
		     str4(brand + 16 * k + 8), str4(brand + 16 * k + 12));
	leaf(&e[n++], 0x80000008, 0, false, 0x3028, 0, 0, 0);
	return n;
}

int soft_supported_cpuid(struct kvm_cpuid2 *cpuid)
{
	struct kvm_cpuid_entry2 e[32];
	int n = build(e);
	if (cpuid->nent < (uint32_t)n) {
		cpuid->nent = n;
		return -E2BIG;
	}
	memcpy(cpuid->entries, e, n * sizeof(e[0]));
	cpuid->nent = n;
	return 0;
}

void soft_cpuid(struct accel_vcpu *c, uint32_t fn, uint32_t sub, uint32_t out[4])
{
	struct kvm_cpuid_entry2 def[32];
	const struct kvm_cpuid_entry2 *t = c->cpuid;
	int n = c->ncpuid;
	if (!t) {
		n = build(def);
		t = def;
	}
	out[0] = out[1] = out[2] = out[3] = 0;
	for (int k = 0; k < n; k++) {
		if (t[k].function != fn)
			continue;
		if ((t[k].flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && t[k].index != sub)
			continue;
		out[0] = t[k].eax;
		out[1] = t[k].ebx;
		out[2] = t[k].ecx;
		out[3] = t[k].edx;
		break;
	}
	if (fn == 0xb)
		out[3] = (uint32_t)c->index; /* the x2APIC ID, on every sub-leaf */
	if (fn == 1) {
		out[2] &= ~(1u << 27);
		if (c->cr4 & CR4_OSXSAVE)
			out[2] |= 1u << 27;
		if (!(irqchip_get_apic_base(c->vm->chip, c->index) & 0x800))
			out[3] &= ~(1u << 9); /* a disabled APIC leaves CPUID */
		if (!t)
			out[1] |= (uint32_t)c->index << 24;
	}
}
