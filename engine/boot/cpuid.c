/* cpuid: the table of features a script may hide from a guest, by name, and
 * what the table is used for: filtering a CPUID set before it reaches a vCPU,
 * and naming the feature behind an instruction the host could not emulate, so
 * the stop can say which one to hide. Bit positions are those of the Intel SDM
 * and AMD APM CPUID pages (and Documentation/virt/kvm/x86/cpuid.rst for KVM's
 * own leaf 0x40000001). */
#include "engine/boot/cpuid.h"

#include <stdio.h>
#include <string.h>

#define F(n, l, s, r, b) { n, l, s, r, 1u << (b) }
static const struct cpuid_feature table[] = {
	F("sse3", 1, 0, CPUID_ECX, 0), F("pclmulqdq", 1, 0, CPUID_ECX, 1),
	F("monitor", 1, 0, CPUID_ECX, 3), F("ssse3", 1, 0, CPUID_ECX, 9),
	F("fma", 1, 0, CPUID_ECX, 12), F("cx16", 1, 0, CPUID_ECX, 13),
	F("pcid", 1, 0, CPUID_ECX, 17), F("sse4_1", 1, 0, CPUID_ECX, 19),
	F("sse4_2", 1, 0, CPUID_ECX, 20), F("x2apic", 1, 0, CPUID_ECX, 21),
	F("movbe", 1, 0, CPUID_ECX, 22), F("popcnt", 1, 0, CPUID_ECX, 23),
	F("tsc_deadline", 1, 0, CPUID_ECX, 24), F("aes", 1, 0, CPUID_ECX, 25),
	F("xsave", 1, 0, CPUID_ECX, 26), F("avx", 1, 0, CPUID_ECX, 28),
	F("f16c", 1, 0, CPUID_ECX, 29), F("rdrand", 1, 0, CPUID_ECX, 30),
	F("hypervisor", 1, 0, CPUID_ECX, 31),
	F("fsgsbase", 7, 0, CPUID_EBX, 0), F("bmi1", 7, 0, CPUID_EBX, 3),
	F("hle", 7, 0, CPUID_EBX, 4), F("avx2", 7, 0, CPUID_EBX, 5),
	F("smep", 7, 0, CPUID_EBX, 7), F("bmi2", 7, 0, CPUID_EBX, 8),
	F("erms", 7, 0, CPUID_EBX, 9), F("invpcid", 7, 0, CPUID_EBX, 10),
	F("rtm", 7, 0, CPUID_EBX, 11), F("avx512f", 7, 0, CPUID_EBX, 16),
	F("rdseed", 7, 0, CPUID_EBX, 18), F("adx", 7, 0, CPUID_EBX, 19),
	F("smap", 7, 0, CPUID_EBX, 20), F("clflushopt", 7, 0, CPUID_EBX, 23),
	F("clwb", 7, 0, CPUID_EBX, 24), F("sha_ni", 7, 0, CPUID_EBX, 29),
	F("umip", 7, 0, CPUID_ECX, 2), F("pku", 7, 0, CPUID_ECX, 3),
	F("la57", 7, 0, CPUID_ECX, 16), F("rdpid", 7, 0, CPUID_ECX, 22),
	F("xsaveopt", 0xd, 1, CPUID_EAX, 0), F("xsavec", 0xd, 1, CPUID_EAX, 1),
	F("xsaves", 0xd, 1, CPUID_EAX, 3),
	F("lahf_lm", 0x80000001, 0, CPUID_ECX, 0), F("abm", 0x80000001, 0, CPUID_ECX, 5),
	F("pdpe1gb", 0x80000001, 0, CPUID_EDX, 26), F("rdtscp", 0x80000001, 0, CPUID_EDX, 27),
	/* KVM_FEATURE_CLOCKSOURCE and KVM_FEATURE_CLOCKSOURCE2: both MSR pairs. */
	{ "kvmclock", 0x40000001, 0, CPUID_EAX, (1u << 0) | (1u << 3) },
};
#undef F
#define NFEATURES (sizeof(table) / sizeof(table[0]))
_Static_assert(NFEATURES <= 64, "cpuid_hidden_t holds one bit per feature");

const struct cpuid_feature *cpuid_features(size_t *n)
{
	*n = NFEATURES;
	return table;
}

int cpuid_feature_index(const char *name)
{
	for (size_t i = 0; i < NFEATURES; i++)
		if (strcmp(table[i].name, name) == 0)
			return (int)i;
	return -1;
}

const char *cpuid_feature_names(void)
{
	static char buf[NFEATURES * 16];
	if (!buf[0]) {
		size_t len = 0;
		for (size_t i = 0; i < NFEATURES; i++)
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s",
						i ? ", " : "", table[i].name);
	}
	return buf;
}

static uint32_t *reg_of(struct kvm_cpuid_entry2 *e, enum cpuid_reg r)
{
	switch (r) {
	case CPUID_EAX: return &e->eax;
	case CPUID_EBX: return &e->ebx;
	case CPUID_ECX: return &e->ecx;
	default: return &e->edx;
	}
}

/* Leaves without KVM_CPUID_FLAG_SIGNIFCANT_INDEX ignore the subleaf. */
static int matches(const struct kvm_cpuid_entry2 *e, const struct cpuid_feature *f)
{
	return e->function == f->leaf &&
	       (!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || e->index == f->subleaf);
}

void cpuid_apply(struct kvm_cpuid2 *c, cpuid_hidden_t hidden)
{
	for (size_t i = 0; i < NFEATURES; i++) {
		if (!(hidden & (1ull << i)))
			continue;
		for (unsigned j = 0; j < c->nent; j++)
			if (matches(&c->entries[j], &table[i]))
				*reg_of(&c->entries[j], table[i].reg) &= ~table[i].mask;
	}
}

int cpuid_has(const struct kvm_cpuid2 *c, const struct cpuid_feature *f)
{
	for (unsigned j = 0; j < c->nent; j++) {
		struct kvm_cpuid_entry2 e = c->entries[j];
		if (matches(&e, f))
			return (*reg_of(&e, f->reg) & f->mask) == f->mask;
	}
	return 0;
}

struct insn_feature {
	const char *mnemonic;   /* exact, or a prefix when it ends in '*' */
	const char *feature;
};

static const struct insn_feature insns[] = {
	{ "cmpxchg16b", "cx16" },
	{ "xsaves*", "xsaves" }, { "xrstors*", "xsaves" }, { "xsavec*", "xsavec" },
	{ "xsaveopt*", "xsaveopt" }, { "xsave*", "xsave" }, { "xrstor*", "xsave" },
	{ "xgetbv", "xsave" }, { "xsetbv", "xsave" },
	{ "rdrand", "rdrand" }, { "rdseed", "rdseed" }, { "rdpid", "rdpid" },
	{ "rdfsbase", "fsgsbase" }, { "rdgsbase", "fsgsbase" },
	{ "wrfsbase", "fsgsbase" }, { "wrgsbase", "fsgsbase" },
	{ "invpcid", "invpcid" }, { "rdpkru", "pku" }, { "wrpkru", "pku" },
	{ "movbe", "movbe" }, { "popcnt", "popcnt" }, { "lzcnt", "abm" },
	{ "stac", "smap" }, { "clac", "smap" }, { "clflushopt", "clflushopt" },
	{ "clwb", "clwb" }, { "rdtscp", "rdtscp" }, { "pclmulqdq", "pclmulqdq" },
	{ "aes*", "aes" }, { "andn", "bmi1" }, { "bextr", "bmi1" }, { "blsi", "bmi1" },
	{ "blsr", "bmi1" }, { "blsmsk", "bmi1" }, { "tzcnt", "bmi1" },
	{ "pdep", "bmi2" }, { "pext", "bmi2" }, { "mulx", "bmi2" }, { "rorx", "bmi2" },
	{ "sarx", "bmi2" }, { "shlx", "bmi2" }, { "shrx", "bmi2" }, { "bzhi", "bmi2" },
	{ "adcx", "adx" }, { "adox", "adx" }, { "monitor", "monitor" }, { "mwait", "monitor" },
};

/* VEX-encoded (AVX) mnemonics start with 'v'; these few 'v' ones are not AVX. */
static const char *const not_avx[] = {
	"verr", "verw", "vmcall", "vmlaunch", "vmresume", "vmxoff", "vmxon", "vmread",
	"vmwrite", "vmptrld", "vmptrst", "vmclear", "vmfunc", "vmrun", "vmload", "vmsave",
	"vmmcall",
};

static int is_prefix_word(const char *w, size_t n)
{
	static const char *const prefixes[] = { "lock", "rep", "repe", "repne", "repz", "repnz" };
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strlen(prefixes[i]) == n && strncmp(w, prefixes[i], n) == 0)
			return 1;
	return 0;
}

static int word_is(const char *w, size_t n, const char *pattern)
{
	size_t p = strlen(pattern);
	if (p && pattern[p - 1] == '*')
		return n >= p - 1 && strncmp(w, pattern, p - 1) == 0;
	return n == p && strncmp(w, pattern, n) == 0;
}

const char *cpuid_feature_of_insn(const char *text)
{
	size_t n;
	if (!text)
		return NULL;
	for (;;) {
		text += strspn(text, " ");
		n = strcspn(text, " ");
		if (!n || !is_prefix_word(text, n))
			break;
		text += n;
	}
	if (!n)
		return NULL;
	for (size_t i = 0; i < sizeof(insns) / sizeof(insns[0]); i++)
		if (word_is(text, n, insns[i].mnemonic))
			return insns[i].feature;
	if (text[0] != 'v')
		return NULL;
	for (size_t i = 0; i < sizeof(not_avx) / sizeof(not_avx[0]); i++)
		if (word_is(text, n, not_avx[i]))
			return NULL;
	return "avx";
}
