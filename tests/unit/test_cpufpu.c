/* test_cpufpu: cpu_set_fpu on a vCPU that never used its FPU, on the
 * accelerators usable here. Every kvm_fpu field written (x87 registers and
 * control words, XMM, MXCSR) must read back through cpu_get_fpu and through
 * the XSAVE view (cpu_get_vector_state), with x87 and SSE marked in use in
 * XSTATE_BV: KVM_SET_FPU alone left both in their initial state on kvm. */
#include "util/err.h"
#include "engine/core/cpustate.h"
#include "engine/core/vm.h"
#include "engine/accel/accel.h"
#include <stdlib.h>
#include <string.h>

#include "tap.h"

static void fill(struct kvm_fpu *f)
{
	memset(f, 0, sizeof(*f));
	f->fcw = 0x27f;
	f->fsw = 0x3800;                        /* TOP = 7 */
	f->ftwx = 0x80;                         /* physical register 7 valid */
	f->last_opcode = 0x123;
	f->last_ip = 0x1234;
	f->last_dp = 0x5678;
	f->mxcsr = 0x1fa0;
	static const uint8_t one[10] = { 0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x3f }; /* 1.0 */
	memcpy(f->fpr[0], one, 10);
	for (int i = 0; i < 16; i++)
		memset(f->xmm[i], 0x10 + i, 16);
}

static bool same_fpu(const struct kvm_fpu *a, const struct kvm_fpu *b)
{
	bool st = true;
	for (int i = 0; i < 8; i++)
		st = st && memcmp(a->fpr[i], b->fpr[i], 10) == 0;
	return st && memcmp(a->xmm, b->xmm, sizeof(a->xmm)) == 0 && a->fcw == b->fcw &&
	       a->fsw == b->fsw && a->ftwx == b->ftwx && a->last_opcode == b->last_opcode &&
	       a->last_ip == b->last_ip && a->last_dp == b->last_dp && a->mxcsr == b->mxcsr;
}

static void check(const char *accel)
{
	struct vm_config cfg = { .name = "cpufpu", .mem_size = 2u << 20, .vcpus = 1, .accel = accel };
	struct vm *vm;
	if (vm_create(&cfg, &vm) < 0) {
		ok(0, "vm_create on %s: %s", accel, err_msg());
		return;
	}
	struct kvm_fpu want, got;
	fill(&want);
	ok(cpu_set_fpu(vm, 0, &want) == 0, "cpu_set_fpu on %s: %s", accel, err_msg());
	ok(cpu_get_fpu(vm, 0, &got) == 0 && same_fpu(&want, &got), "%s: every field reads back", accel);
	ok(got.mxcsr == 0x1fa0, "%s: mxcsr reads back (0x%x)", accel, got.mxcsr);
	struct cpu_vector_state vs;
	int r = cpu_get_vector_state(vm, 0, &vs);
	ok(r == 0 && vs.fcw == 0x27f && vs.mxcsr == 0x1fa0 && vs.xmm[15][0] == 0x1f &&
	   memcmp(vs.st[0], want.fpr[0], 10) == 0, "%s: the vector view agrees", accel);
	ok(!vs.from_xsave || (vs.xstate_bv & 3) == 3, "%s: x87 and SSE are marked in use (XSTATE_BV 0x%llx)",
	   accel, (unsigned long long)vs.xstate_bv);
	want.mxcsr = 0x1f80;
	want.xmm[3][0] = 0x77;
	ok(cpu_set_fpu(vm, 0, &want) == 0 && cpu_get_fpu(vm, 0, &got) == 0 && same_fpu(&want, &got),
	   "%s: a second write replaces the first", accel);
	vm_destroy(vm);
}

/* Every accelerator usable here: the C unit tests run once per build, not
 * once per accelerator as the Lua and shell tests do. */
int main(void)
{
	tap_plan(12);
	for (int i = 0; accel_all[i]; i++) {
		if (accel_usable(accel_all[i]) == 0)
			check(accel_all[i]->name);
		else
			for (int k = 0; k < 6; k++)
				ok(1, "# skip %s is not usable here: %s", accel_all[i]->name, err_msg());
	}
	return tap_done();
}
