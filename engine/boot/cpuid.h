/* cpuid: named CPU features and the filter that hides some of them from a guest.
 * Some hosts cannot emulate every instruction (on PVM, KVM's emulator runs all
 * ring-0 code and lacks cmpxchg16b, xsave/xrstor, ...); a guest that is told a
 * feature is absent does not use its instructions. The filter is a set of
 * entries of one table (name -> leaf, subleaf, register, bits) applied to the
 * CPUID that KVM_GET_SUPPORTED_CPUID reports before KVM_SET_CPUID2. */
#ifndef HVWB_CPUID_H
#define HVWB_CPUID_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

enum cpuid_reg { CPUID_EAX, CPUID_EBX, CPUID_ECX, CPUID_EDX };

struct cpuid_feature {
	const char *name;       /* as Linux's /proc/cpuinfo spells it, mostly */
	uint32_t leaf, subleaf;
	enum cpuid_reg reg;
	uint32_t mask;
};

/* A set of hidden features: bit i is cpuid_features()[i]. */
typedef uint64_t cpuid_hidden_t;

/* The table, and its length (at most 64). */
const struct cpuid_feature *cpuid_features(size_t *n);
/* Index of a feature by name, or -1. */
int cpuid_feature_index(const char *name);
/* "cx16, xsave, ..." of every name, for messages. */
const char *cpuid_feature_names(void);
/* Clears the bits of every hidden feature in c's entries. */
void cpuid_apply(struct kvm_cpuid2 *c, cpuid_hidden_t hidden);
/* Whether the feature is present in c (its bits all set). */
int cpuid_has(const struct kvm_cpuid2 *c, const struct cpuid_feature *f);
/* The feature a guest must see to use an instruction (capstone mnemonic), or
 * NULL when the instruction has none (or is baseline x86-64). */
const char *cpuid_feature_of_insn(const char *mnemonic);

#endif
