/* vm_cpu: what is done to a stopped VM's vCPUs from outside: registers,
 * loading a program and pointing vCPU 0 at it, and reading statistics. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/err.h"
#include "engine/core/vm_internal.h"

/* The vCPU to touch, or NULL with a message if the index is bad or the VM runs
 * (its registers belong to the vCPU thread while it is in KVM_RUN). */
static struct vcpu *stopped_vcpu(struct vm *vm, int index)
{
	if (index < 0 || index >= vm->nvcpus) {
		err_set(-EINVAL, "VM %s has no vCPU %d (it has %d)", vm->name, index, vm->nvcpus);
		return NULL;
	}
	pthread_mutex_lock(&engine_lock);
	bool running = vm->state == VM_RUNNING;   /* settled to judge a condition is stopped */
	pthread_mutex_unlock(&engine_lock);
	if (running) {
		err_set(-EBUSY, "VM %s is running: pause it first", vm->name);
		return NULL;
	}
	return &vm->vcpus[index];
}

struct vcpu *vm_stopped_vcpu(struct vm *vm, int index)
{
	return stopped_vcpu(vm, index);
}

/* A vCPU call's result, with a message naming what failed. */
int vcpu_result(const struct vcpu *v, int r, const char *what)
{
	return r < 0 ? err_set(r, "%s on vCPU %d: %s", what, v->index, strerror(-r)) : r;
}

int vm_get_regs(struct vm *vm, int i, struct kvm_regs *r)
{
	struct vcpu *v = stopped_vcpu(vm, i);
	return v ? vcpu_result(v, v->acc->get_regs(v->av, r), "reading the registers") : -EBUSY;
}

int vm_get_sregs(struct vm *vm, int i, struct kvm_sregs *s)
{
	struct vcpu *v = stopped_vcpu(vm, i);
	return v ? vcpu_result(v, v->acc->get_sregs(v->av, s), "reading the system registers") : -EBUSY;
}

/* Sets the registers, reads them back and puts the old ones back if the
 * accelerator did not keep what was written. */
static int set_regs_checked(struct vcpu *v, const struct kvm_regs *r)
{
	struct kvm_regs old, now;
	int rc = vcpu_result(v, v->acc->get_regs(v->av, &old), "reading the registers");
	if (rc == 0)
		rc = vcpu_result(v, v->acc->set_regs(v->av, r), "setting the registers");
	if (rc == 0 && v->acc->get_regs(v->av, &now) == 0 && (rc = vm_regs_readback(r, &now)) < 0)
		v->acc->set_regs(v->av, &old);
	return rc;
}

static int set_sregs_checked(struct vcpu *v, const struct kvm_sregs *s)
{
	struct kvm_sregs old, now;
	int rc = vcpu_result(v, v->acc->get_sregs(v->av, &old), "reading the system registers");
	if (rc == 0 && (rc = v->acc->set_sregs(v->av, s)) < 0) {
		/* name what the write changed: that is what the accelerator refused */
		char what[256] = "", bits[128];
		size_t n = 0;
		const struct { const char *k; uint64_t a, b; } c[] = {
			{ "cr0", old.cr0, s->cr0 }, { "cr3", old.cr3, s->cr3 }, { "cr4", old.cr4, s->cr4 },
			{ "efer", old.efer, s->efer }, { "apic_base", old.apic_base, s->apic_base },
		};
		for (size_t k = 0; k < sizeof(c) / sizeof(c[0]) && n < sizeof(what); k++)
			if (c[k].a != c[k].b) {
				vm_bits_text(c[k].a ^ c[k].b, bits, sizeof(bits));
				n += (size_t)snprintf(what + n, sizeof(what) - n, "%s%s = 0x%llx (changed bits %s)",
						      n ? ", " : "; it refused ", c[k].k, (unsigned long long)c[k].b,
						      bits);
			}
		rc = err_set(rc, "setting the system registers on vCPU %d: the accelerator refused them (%s)%s",
			     v->index, strerror(-rc), what);
	}
	if (rc == 0 && v->acc->get_sregs(v->av, &now) == 0 && (rc = vm_sregs_readback(s, &now)) < 0)
		v->acc->set_sregs(v->av, &old);
	return rc;
}

int vm_set_regs(struct vm *vm, int i, const struct kvm_regs *r)
{
	struct vcpu *v = stopped_vcpu(vm, i);
	struct kvm_sregs s;
	if (!v)
		return -EBUSY;
	int rc = vcpu_result(v, v->acc->get_sregs(v->av, &s), "reading the system registers");
	if (rc == 0)
		rc = vm_check_regs(r, &s);
	return rc < 0 ? rc : set_regs_checked(v, r);
}

int vm_set_sregs(struct vm *vm, int i, const struct kvm_sregs *s)
{
	struct vcpu *v = stopped_vcpu(vm, i);
	if (!v)
		return -EBUSY;
	int rc = vm_check_sregs(s);
	return rc < 0 ? rc : set_sregs_checked(v, s);
}

int vm_set_cpu(struct vm *vm, int i, const struct kvm_regs *r, const struct kvm_sregs *s)
{
	struct vcpu *v = stopped_vcpu(vm, i);
	struct kvm_sregs old;
	if (!v)
		return -EBUSY;
	int rc = vm_check_sregs(s);
	if (rc == 0)
		rc = vm_check_regs(r, s);
	if (rc == 0)
		rc = vcpu_result(v, v->acc->get_sregs(v->av, &old), "reading the system registers");
	if (rc == 0 && (rc = set_sregs_checked(v, s)) == 0 && (rc = set_regs_checked(v, r)) < 0)
		v->acc->set_sregs(v->av, &old);
	return rc;
}

int vm_boot(struct vm *vm, const struct boot_plan *plan, const char *what)
{
	struct guest_ram ram = vm_ram(vm);
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	int r;
	memset(&regs, 0, sizeof(regs));
	if ((r = vm_get_sregs(vm, 0, &sregs)) < 0 ||
	    (r = boot_prepare(&ram, plan, &regs, &sregs)) < 0 ||
	    (r = vm_set_sregs(vm, 0, &sregs)) < 0 ||
	    (r = vm_set_regs(vm, 0, &regs)) < 0)
		return err_wrap(r, "loading %s", what);
	struct kvm_mp_state runnable = { KVM_MP_STATE_RUNNABLE };
	vm->vcpus[0].acc->set_mp_state(vm->vcpus[0].av, &runnable);
	pthread_mutex_lock(&engine_lock);
	vm->state = VM_CREATED;
	memset(&vm->stop, 0, sizeof(vm->stop));
	vm->stop.vcpu = -1;
	pthread_mutex_unlock(&engine_lock);
	return 0;
}

int vm_load(struct vm *vm, const char *path, const struct load_opts *opts)
{
	struct load_opts defaults;
	if (!opts) {
		load_opts_init(&defaults);
		opts = &defaults;
	}
	if (!stopped_vcpu(vm, 0))
		return -EBUSY;
	struct guest_ram ram = vm_ram(vm);
	struct boot_plan plan;
	int r = loader_load(&ram, path, opts, &plan, vm->syms);
	if (r < 0)
		return r;
	return vm_boot(vm, &plan, path);
}

/* Pages of guest RAM the host has really backed, from mincore(). */
static uint64_t resident_bytes(struct vm *vm)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t pages = (vm->mem_size + (uint64_t)page - 1) / (uint64_t)page;
	unsigned char *vec = malloc(pages);
	uint64_t n = 0;
	if (vec && mincore(vm->mem, vm->mem_size, vec) == 0)
		for (size_t i = 0; i < pages; i++)
			n += vec[i] & 1;
	free(vec);
	return n * (uint64_t)page;
}

int vm_stats(struct vm *vm, struct vm_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->vcpu = calloc((size_t)vm->nvcpus, sizeof(*out->vcpu));
	if (!out->vcpu)
		return err_set(-ENOMEM, "out of memory");
	out->nvcpus = vm->nvcpus;
	for (int i = 0; i < vm->nvcpus; i++) {
		stats_copy(&out->vcpu[i], &vm->vcpus[i].stats);
		stats_add(&out->total, &out->vcpu[i]);
	}
	out->mem_size = vm->mem_size;
	out->resident_bytes = resident_bytes(vm);
	out->created_ns = vm->created_ns;
	pthread_mutex_lock(&engine_lock);
	out->run_ns = vm->run_ns;
	if (vm->state == VM_RUNNING)
		out->run_ns += stats_now_ns() - vm->run_started_ns;
	pthread_mutex_unlock(&engine_lock);
	return 0;
}

void vm_stats_free(struct vm_stats *st)
{
	free(st->vcpu);
	st->vcpu = NULL;
}

int vm_kvm_stats(struct vm *vm, int vcpu, void (*fn)(void *arg, const char *name, uint64_t value),
		 void *arg)
{
	if (vcpu >= vm->nvcpus)
		return err_set(-EINVAL, "VM %s has no vCPU %d", vm->name, vcpu);
	return stats_kvm_read(vcpu < 0 ? vm->stats_fd : vm->vcpus[vcpu].stats_fd, fn, arg);
}
