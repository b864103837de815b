/* disasm: capstone wrapper for guest code. One capstone handle per code size
 * and thread is opened on first use and kept until the thread exits, with
 * detail on so branches, calls and RIP-relative operands can be recognised
 * and named from the symbol table. Code is read through the guest's page
 * tables (mmu.h), at most 15 bytes per instruction, and only as far as the
 * memory is readable, so the last instruction before an unmapped page still
 * decodes when it fits. */
#include "engine/debug/disasm.h"

#include <capstone/capstone.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"
#include "engine/debug/mmu.h"
#include "engine/debug/symbols.h"
#include "engine/core/vm.h"

#define MAX_INSN 15

int disasm_bits_of(const struct kvm_sregs *s)
{
	if (!(s->cr0 & 1))
		return 16;
	if ((s->efer & (1ull << 10)) && s->cs.l)
		return 64;
	return s->cs.db ? 32 : 16;
}

int disasm_bits(struct vm *vm, int vcpu)
{
	struct kvm_sregs s;
	int r = vm_get_sregs(vm, vcpu, &s);
	return r < 0 ? r : disasm_bits_of(&s);
}

/* A capstone handle is not thread-safe (cs_disasm writes into it), and vCPU
 * threads decode on emulation failures while the main thread and the
 * dashboard decode too: every thread gets its own handles, opened on first
 * use and closed by the key's destructor when the thread exits. cs_open
 * itself is serialised, since capstone 4 sets up its globals on first use. */
struct handles {
	csh h[3];
	bool opened[3];
};

static pthread_key_t handles_key;
static pthread_once_t handles_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int open_count;
static __thread struct handles *my_handles;

static void close_handles(void *p)
{
	struct handles *hs = p;
	for (int i = 0; i < 3; i++)
		if (hs->opened[i]) {
			cs_close(&hs->h[i]);
			atomic_fetch_sub(&open_count, 1);
		}
	free(hs);
	my_handles = NULL;
}

/* Capstone 4 sorts a static table of its own on its first decode with
 * details, then sets a plain flag (TSan saw two threads at it). One decode
 * under open_lock, before any thread decodes for real, does it once. */
static void warm_up(csh h)
{
	static bool warm;
	if (warm || !h)
		return;
	static const uint8_t code[] = { 0x89, 0xd8, 0x50, 0xc3 }; /* mov eax, ebx; push; ret */
	cs_insn *insn = NULL;
	size_t n = cs_disasm(h, code, sizeof(code), 0x1000, 0, &insn);
	if (n)
		cs_free(insn, n);
	warm = true;
}

static void make_key(void)
{
	pthread_key_create(&handles_key, close_handles);
}

int disasm_open_handles(void)
{
	return atomic_load(&open_count);
}

static int open_handle(int bits, csh *out)
{
	int i = bits == 16 ? 0 : bits == 32 ? 1 : 2;
	if (bits != 16 && bits != 32 && bits != 64)
		return err_set(-EINVAL, "code size must be 16, 32 or 64 bits, not %d", bits);
	if (!my_handles) {
		pthread_once(&handles_once, make_key);
		my_handles = calloc(1, sizeof(*my_handles));
		if (!my_handles)
			return err_set(-ENOMEM, "out of memory");
		pthread_setspecific(handles_key, my_handles);
	}
	struct handles *hs = my_handles;
	if (!hs->opened[i]) {
		cs_mode mode = bits == 16 ? CS_MODE_16 : bits == 32 ? CS_MODE_32 : CS_MODE_64;
		pthread_mutex_lock(&open_lock);
		cs_err e = cs_open(CS_ARCH_X86, mode, &hs->h[i]);
		if (e == CS_ERR_OK)
			cs_option(hs->h[i], CS_OPT_DETAIL, CS_OPT_ON);
		warm_up(e == CS_ERR_OK ? hs->h[i] : 0);
		pthread_mutex_unlock(&open_lock);
		if (e != CS_ERR_OK)
			return err_set(-ENOSYS, "capstone: %s", cs_strerror(e));
		hs->opened[i] = true;
		atomic_fetch_add(&open_count, 1);
	}
	*out = hs->h[i];
	return 0;
}

bool disasm_symbolize(struct symtab *syms, uint64_t addr, char *buf, size_t cap)
{
	uint64_t off = 0;
	const char *name = syms ? sym_lookup(syms, addr, &off) : NULL;
	if (cap)
		buf[0] = '\0';
	if (!name)
		return false;
	if (off)
		snprintf(buf, cap, "%s+0x%" PRIx64, name, off);
	else
		snprintf(buf, cap, "%s", name);
	return true;
}

static void mark_groups(csh h, const cs_insn *ci, struct disasm_insn *out)
{
	out->is_call = cs_insn_group(h, ci, CS_GRP_CALL);
	out->is_ret = cs_insn_group(h, ci, CS_GRP_RET);
	out->is_jump = cs_insn_group(h, ci, CS_GRP_JUMP);
	out->is_int = cs_insn_group(h, ci, CS_GRP_INT);
	out->is_iret = cs_insn_group(h, ci, CS_GRP_IRET);
}

/* Names a direct branch target, or notes a RIP-relative operand's address. */
static void add_symbols(const cs_insn *ci, struct symtab *syms, struct disasm_insn *out)
{
	const cs_x86 *x = &ci->detail->x86;
	char sym[160];
	for (int i = 0; i < x->op_count; i++) {
		const cs_x86_op *op = &x->operands[i];
		if ((out->is_call || out->is_jump) && op->type == X86_OP_IMM && x->op_count == 1) {
			out->has_target = true;
			out->target = (uint64_t)op->imm;
			if (disasm_symbolize(syms, out->target, sym, sizeof(sym)))
				snprintf(out->operands, sizeof(out->operands), "0x%" PRIx64 " <%s>",
					 out->target, sym);
		} else if (op->type == X86_OP_MEM && op->mem.base == X86_REG_RIP) {
			out->has_target = true;
			out->target = ci->address + ci->size + (uint64_t)op->mem.disp;
			size_t used = strlen(out->operands);
			bool named = disasm_symbolize(syms, out->target, sym, sizeof(sym));
			snprintf(out->operands + used, sizeof(out->operands) - used, "  # 0x%" PRIx64 "%s%s%s",
				 out->target, named ? " <" : "", sym, named ? ">" : "");
		}
	}
}

int disasm_decode(int bits, uint64_t addr, const uint8_t *code, size_t len, struct symtab *syms,
		  struct disasm_insn *out)
{
	memset(out, 0, sizeof(*out));
	out->addr = addr;
	csh h = 0;
	int r = open_handle(bits, &h);
	if (r < 0)
		return r;
	if (len == 0)
		return err_set(-EINVAL, "no bytes to disassemble");
	cs_insn *ci = NULL;
	size_t n = cs_disasm(h, code, len > MAX_INSN ? MAX_INSN : len, addr, 1, &ci);
	if (n == 0) {
		out->len = 1;
		out->bytes[0] = code[0];
		snprintf(out->mnemonic, sizeof(out->mnemonic), ".byte");
		snprintf(out->operands, sizeof(out->operands), "0x%02x", code[0]);
		snprintf(out->text, sizeof(out->text), ".byte 0x%02x", code[0]);
		return err_set(-EILSEQ, "invalid instruction at 0x%" PRIx64 " (%d-bit code)", addr, bits);
	}
	out->valid = true;
	out->len = ci->size;
	memcpy(out->bytes, ci->bytes, ci->size);
	snprintf(out->mnemonic, sizeof(out->mnemonic), "%s", ci->mnemonic);
	snprintf(out->operands, sizeof(out->operands), "%s", ci->op_str);
	mark_groups(h, ci, out);
	add_symbols(ci, syms, out);
	snprintf(out->text, sizeof(out->text), "%s%s%s", out->mnemonic, out->operands[0] ? " " : "",
		 out->operands);
	cs_free(ci, n);
	return (int)out->len;
}

/* Reads up to MAX_INSN bytes at addr, fewer when the page after is not
 * readable. Returns the count or -EFAULT. */
static int fetch(const struct mmu_ctx *ctx, uint64_t addr, uint8_t *buf)
{
	if (mmu_read(ctx, addr, buf, MAX_INSN) == 0)
		return MAX_INSN;
	size_t to_page_end = 0x1000 - (addr & 0xfff);
	if (to_page_end < MAX_INSN && mmu_read(ctx, addr, buf, to_page_end) == 0)
		return (int)to_page_end;
	return err_wrap(-EFAULT, "cannot read code at 0x%" PRIx64, addr);
}

/* Decodes with the paging and code size these registers give. */
static int decode_at(struct vm *vm, const struct kvm_sregs *s, int bits, uint64_t addr, int n,
		     struct disasm_insn *out)
{
	struct mmu_ctx ctx;
	mmu_sregs_ctx(vm, s, &ctx);
	if (!bits)
		bits = disasm_bits_of(s);
	int done = 0;
	while (done < n) {
		uint8_t code[MAX_INSN];
		int got = fetch(&ctx, addr, code);
		if (got < 0)
			return done ? done : got;
		int r = disasm_decode(bits, addr, code, (size_t)got, vm_symbols(vm), &out[done]);
		if (r < 0 && r != -EILSEQ)
			return done ? done : r;
		addr += out[done++].len;
	}
	return done;
}

int disasm_range_bits(struct vm *vm, int vcpu, int bits, uint64_t addr, int n,
		      struct disasm_insn *out)
{
	struct kvm_sregs s;
	int r = vm_get_sregs(vm, vcpu, &s);
	return r < 0 ? r : decode_at(vm, &s, bits, addr, n, out);
}

int disasm_range(struct vm *vm, int vcpu, uint64_t addr, int n, struct disasm_insn *out)
{
	return disasm_range_bits(vm, vcpu, 0, addr, n, out);
}

int disasm_one(struct vm *vm, int vcpu, uint64_t addr, struct disasm_insn *out)
{
	int r = disasm_range(vm, vcpu, addr, 1, out);
	if (r < 0)
		return r;
	if (!out->valid)
		return err_set(-EILSEQ, "invalid instruction at 0x%" PRIx64, addr);
	return (int)out->len;
}

void disasm_locate_stop(struct vm *vm, struct vm_stop *s)
{
	if (s->vcpu < 0 || s->insn_len || s->kind == STOP_EXIT || s->kind == STOP_CRASH)
		return;
	struct kvm_sregs sr;
	struct disasm_insn d;
	if (vm_state(vm) != VM_PAUSED || vm_get_sregs(vm, s->vcpu, &sr) < 0)
		return;
	uint64_t lin = sr.cs.base + s->rip;
	disasm_symbolize(vm_symbols(vm), lin, s->symbol, sizeof(s->symbol));
	if (decode_at(vm, &sr, 0, lin, 1, &d) != 1)
		return;
	s->insn_len = d.len;
	memcpy(s->insn, d.bytes, d.len);
	snprintf(s->insn_text, sizeof(s->insn_text), "%.63s", d.text);
}
