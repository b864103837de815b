/* lua_inspect: the debugger's inspection methods of a VM userdata: page-table
 * walks (vm:translate), virtual memory (vm:vread, vm:vwrite, vm:dump),
 * disassembly (vm:disasm), symbols (vm:sym, vm:addr, vm:symbols), MSRs,
 * x87/SSE/AVX registers (vm:fpu) and the full register view (vm:cpu) that
 * marks what changed since the previous stop. Addresses may be integers
 * (linear addresses: with paging off that is the physical address), symbol
 * names ("kmain", "kmain+0x10") or "seg:off" ("ds:0x10" uses the segment's
 * base; "0x7c0:0x10" is real-mode arithmetic, seg * 16 + off). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/cpustate.h"
#include "engine/debug/disasm.h"
#include "util/err.h"
#include "engine/debug/mmu.h"
#include "engine/debug/symbols.h"
#include "engine/core/vm.h"
#include "scripting/lua_wb.h"

#define SNAP_KEY "hvwb.inspect.snapshots"
#define WALK_META "hvwb.walk"
#define CPU_META "hvwb.cpuview"
#define MAX_DUMP (1u << 20)
#define MAX_DISASM 10000

/* ---- arguments ---- */

static int opt_vcpu(lua_State *L, struct wbl_vm *w, int idx)
{
	lua_Integer i = luaL_optinteger(L, idx, 0);
	int n = vm_vcpu_count(w->vm);
	if (i < 0 || i >= n)
		luaL_argerror(L, idx, lua_pushfstring(L, "vCPU must be from 0 to %d", n - 1));
	return (int)i;
}

/* An integer field of an options table, or def. */
static lua_Integer opt_int_field(lua_State *L, int t, const char *name, lua_Integer def)
{
	if (lua_type(L, t) != LUA_TTABLE)
		return def;
	lua_getfield(L, t, name);
	lua_Integer v = def;
	if (!lua_isnil(L, -1)) {
		if (!lua_isinteger(L, -1))
			luaL_error(L, "option '%s' must be an integer", name);
		v = lua_tointeger(L, -1);
	}
	lua_pop(L, 1);
	return v;
}

static bool opt_bool_field(lua_State *L, int t, const char *name)
{
	if (lua_type(L, t) != LUA_TTABLE)
		return false;
	lua_getfield(L, t, name);
	bool v = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return v;
}

static void check_opts(lua_State *L, int idx)
{
	if (!lua_isnoneornil(L, idx))
		luaL_checktype(L, idx, LUA_TTABLE);
}

/* "seg:off" with seg a register name or a number; false if text is not that form. */
static bool seg_off(lua_State *L, struct wbl_vm *w, int vcpu, const char *text, uint64_t *out)
{
	const char *colon = strchr(text, ':');
	if (!colon || colon == text || strchr(colon + 1, ':'))
		return false;
	char seg[16];
	size_t n = (size_t)(colon - text);
	if (n >= sizeof(seg))
		return false;
	memcpy(seg, text, n);
	seg[n] = '\0';
	char *end;
	uint64_t off = strtoull(colon + 1, &end, 0);
	if (*end || !colon[1])
		luaL_error(L, "'%s': the offset after ':' must be a number", text);
	uint64_t segnum = strtoull(seg, &end, 0);
	if (!*end) {
		*out = ((segnum & 0xffff) << 4) + (off & 0xffff);
		return true;
	}
	if (mmu_seg_linear(w->vm, vcpu, seg, off, out) < 0)
		luaL_error(L, "%s", err_msg());
	return true;
}

/* An address argument: integer, symbol expression or seg:off. */
static uint64_t check_va(lua_State *L, struct wbl_vm *w, int idx, int vcpu)
{
	if (lua_isinteger(L, idx))
		return (uint64_t)lua_tointeger(L, idx);
	if (lua_type(L, idx) != LUA_TSTRING)
		luaL_argerror(L, idx, "address must be an integer, a symbol name or \"seg:off\"");
	const char *s = lua_tostring(L, idx);
	uint64_t a;
	if (seg_off(L, w, vcpu, s, &a))
		return a;
	if (sym_resolve(vm_symbols(w->vm), s, &a) < 0)
		luaL_argerror(L, idx, lua_pushfstring(L, "no symbol '%s' (load an ELF or System.map with vm:symbols)", s));
	return a;
}

/* ---- translate ---- */

static void set_int(lua_State *L, const char *k, uint64_t v)
{
	lua_pushinteger(L, (lua_Integer)v);
	lua_setfield(L, -2, k);
}

static void set_bool(lua_State *L, const char *k, bool v)
{
	lua_pushboolean(L, v);
	lua_setfield(L, -2, k);
}

static void set_str(lua_State *L, const char *k, const char *v)
{
	lua_pushstring(L, v);
	lua_setfield(L, -2, k);
}

static void push_level(lua_State *L, const struct mmu_level *l, bool failed)
{
	static const char *const bit_names[] = { "p", "rw", "us", "pwt", "pcd", "a", "d", "ps", "g", "nx" };
	char flags[64];
	lua_createtable(L, 0, 18);
	set_str(L, "name", l->name);
	set_int(L, "table", l->table);
	set_int(L, "index", l->index);
	set_int(L, "entry_addr", l->entry_addr);
	set_int(L, "entry", l->entry);
	mmu_flags_str(l->flags, flags, sizeof(flags));
	set_str(L, "flags", flags);
	for (unsigned i = 0; i < 10; i++)
		set_bool(L, bit_names[i], l->flags & (1u << i));
	set_bool(L, "leaf", l->leaf);
	set_bool(L, "failed", failed);
}

static void walk_text(luaL_Buffer *b, const struct mmu_walk *w, uint64_t cr3)
{
	char line[256], flags[64];
	snprintf(line, sizeof(line), "translate 0x%" PRIx64 " (%s paging, CR3 0x%" PRIx64 ")\n", w->va,
		 mmu_mode_name(w->mode), cr3);
	if (w->mode == MMU_NONE)
		snprintf(line, sizeof(line), "translate 0x%" PRIx64 " (paging off: linear = physical)\n", w->va);
	luaL_addstring(b, line);
	if (w->nlevels) {
		snprintf(line, sizeof(line), "%-5s %-14s %5s  %-18s  %s\n", "level", "table", "index", "entry", "flags");
		luaL_addstring(b, line);
	}
	for (int i = 0; i < w->nlevels; i++) {
		const struct mmu_level *l = &w->level[i];
		mmu_flags_str(l->flags, flags, sizeof(flags));
		snprintf(line, sizeof(line), "%-5s 0x%-12" PRIx64 " %5u  0x%016" PRIx64 "  %s%s\n", l->name,
			 l->table, l->index, l->entry, flags,
			 i == w->fail_level ? "   <- stops here" : l->leaf ? "   <- maps the page" : "");
		luaL_addstring(b, line);
	}
	if (!w->mapped) {
		snprintf(line, sizeof(line), "=> not mapped: %s", w->reason);
	} else if (w->page_size) {
		bool mib = w->page_size >= (1u << 20), gib = w->page_size >= (1u << 30);
		snprintf(line, sizeof(line), "=> physical 0x%" PRIx64 " (%" PRIu64 " %s page, %s, %s, %s)", w->pa,
			 w->page_size >> (gib ? 30 : mib ? 20 : 10), gib ? "GiB" : mib ? "MiB" : "KiB", w->writable ? "writable" : "read-only",
			 w->user ? "user" : "supervisor", w->nx ? "no-execute" : "executable");
	} else {
		snprintf(line, sizeof(line), "=> physical 0x%" PRIx64, w->pa);
	}
	luaL_addstring(b, line);
}

static int walk_tostring(lua_State *L)
{
	lua_getfield(L, 1, "text");
	return 1;
}

static void push_walk(lua_State *L, const struct mmu_walk *w, uint64_t cr3)
{
	lua_createtable(L, 0, 14);
	set_int(L, "va", w->va);
	set_str(L, "mode", mmu_mode_name(w->mode));
	set_bool(L, "mapped", w->mapped);
	if (w->mapped) {
		set_int(L, "pa", w->pa);
		set_int(L, "page_size", w->page_size);
		set_bool(L, "writable", w->writable);
		set_bool(L, "user", w->user);
		set_bool(L, "nx", w->nx);
	} else {
		set_str(L, "reason", w->reason);
		if (w->fail_level >= 0)
			set_str(L, "failed", w->level[w->fail_level].name);
	}
	lua_createtable(L, w->nlevels, 0);
	for (int i = 0; i < w->nlevels; i++) {
		push_level(L, &w->level[i], i == w->fail_level);
		lua_rawseti(L, -2, i + 1);
	}
	lua_setfield(L, -2, "levels");
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	walk_text(&b, w, cr3);
	luaL_pushresult(&b);
	lua_setfield(L, -2, "text");
	luaL_setmetatable(L, WALK_META);
}

/* vm:translate(va[, vcpu]) -> the walk; an unmapped address is not an error:
 * the walk says where it stopped (mapped = false, failed = "PT", reason). */
static int vm_translate(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	int vcpu = opt_vcpu(L, w, 3);
	uint64_t va = check_va(L, w, 2, vcpu);
	struct mmu_ctx ctx;
	int r = mmu_vm_ctx(w->vm, vcpu, &ctx);
	if (r < 0)
		return wbl_fail(L, r);
	struct mmu_walk walk;
	mmu_walk_va(&ctx, va, &walk);
	push_walk(L, &walk, ctx.cr3);
	return 1;
}

/* ---- virtual memory ---- */

static size_t check_len(lua_State *L, int idx, size_t max)
{
	lua_Integer n = luaL_checkinteger(L, idx);
	if (n < 0 || (uint64_t)n > max)
		luaL_argerror(L, idx, lua_pushfstring(L, "length must be from 0 to %d", (int)max));
	return (size_t)n;
}

/* vm:vread(va, len[, vcpu]) -> bytes, or nil, message when a page is unmapped. */
static int vm_vread(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	int vcpu = opt_vcpu(L, w, 4);
	uint64_t va = check_va(L, w, 2, vcpu);
	size_t len = check_len(L, 3, vm_mem_size(w->vm));
	luaL_Buffer b;
	char *p = luaL_buffinitsize(L, &b, len);
	int r = mmu_read_virt(w->vm, vcpu, va, p, len);
	if (r < 0)
		return wbl_fail(L, r);
	luaL_pushresultsize(&b, len);
	return 1;
}

/* vm:vwrite(va, bytes[, vcpu]) -> true; nothing is written if any page is unmapped. */
static int vm_vwrite(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	int vcpu = opt_vcpu(L, w, 4);
	uint64_t va = check_va(L, w, 2, vcpu);
	size_t len;
	const char *s = luaL_checklstring(L, 3, &len);
	int r = mmu_write_virt(w->vm, vcpu, va, s, len);
	if (r < 0)
		return wbl_fail(L, r);
	lua_pushboolean(L, 1);
	return 1;
}

static void dump_line(luaL_Buffer *b, uint64_t addr, const uint8_t *p, size_t n, bool wide)
{
	char line[128];
	int k = wide ? snprintf(line, sizeof(line), "%016" PRIx64 " ", addr)
		     : snprintf(line, sizeof(line), "%08" PRIx64 " ", addr);
	for (size_t i = 0; i < 16; i++) {
		if (i == 8)
			line[k++] = ' ';
		if (i < n)
			k += snprintf(line + k, sizeof(line) - (size_t)k, " %02x", p[i]);
		else
			k += snprintf(line + k, sizeof(line) - (size_t)k, "   ");
	}
	k += snprintf(line + k, sizeof(line) - (size_t)k, "  |");
	for (size_t i = 0; i < n; i++)
		line[k++] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '.';
	line[k++] = '|';
	line[k++] = '\n';
	luaL_addlstring(b, line, (size_t)k);
}

/* vm:dump(addr, len[, {virtual = true, vcpu = 0}]) -> the classic hexdump text. */
static int vm_dump(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	check_opts(L, 4);
	lua_Integer vi = opt_int_field(L, 4, "vcpu", 0);
	if (vi < 0 || vi >= vm_vcpu_count(w->vm))
		return luaL_error(L, "option 'vcpu' must be from 0 to %d", vm_vcpu_count(w->vm) - 1);
	bool virt = opt_bool_field(L, 4, "virtual");
	uint64_t addr = check_va(L, w, 2, (int)vi);
	size_t len = check_len(L, 3, MAX_DUMP);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return luaL_error(L, "out of memory");
	int r = virt ? mmu_read_virt(w->vm, (int)vi, addr, buf, len) : vm_mem_read(w->vm, addr, buf, len);
	if (r < 0) {
		free(buf);
		return wbl_fail(L, r);
	}
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	bool wide = addr + len > 0xffffffffull;
	for (size_t off = 0; off < len; off += 16)
		dump_line(&b, addr + off, buf + off, len - off < 16 ? len - off : 16, wide);
	free(buf);
	luaL_pushresult(&b);
	return 1;
}

/* ---- disassembly ---- */

static void push_insn_table(lua_State *L, struct vm *vm, const struct disasm_insn *in)
{
	char sym[160];
	lua_createtable(L, 0, 12);
	set_int(L, "addr", in->addr);
	set_int(L, "len", in->len);
	lua_pushlstring(L, (const char *)in->bytes, in->len);
	lua_setfield(L, -2, "bytes");
	set_str(L, "mnemonic", in->mnemonic);
	set_str(L, "operands", in->operands);
	set_str(L, "text", in->text);
	set_bool(L, "valid", in->valid);
	set_bool(L, "is_call", in->is_call);
	set_bool(L, "is_ret", in->is_ret);
	set_bool(L, "is_jump", in->is_jump);
	if (in->has_target)
		set_int(L, "target", in->target);
	if (disasm_symbolize(vm_symbols(vm), in->addr, sym, sizeof(sym)))
		set_str(L, "sym", sym);
}

static void insn_line(luaL_Buffer *b, struct vm *vm, const struct disasm_insn *in)
{
	char line[512], sym[160], hex[64];
	uint64_t off = 0;
	const char *name = sym_lookup(vm_symbols(vm), in->addr, &off);
	if (name)
		snprintf(sym, sizeof(sym), " <%s+%s%" PRIx64 ">", name, off ? "0x" : "", off);
	else
		sym[0] = '\0';
	int k = 0;
	for (unsigned i = 0; i < in->len && k < (int)sizeof(hex) - 3; i++)
		k += snprintf(hex + k, sizeof(hex) - (size_t)k, "%s%02x", i ? " " : "", in->bytes[i]);
	hex[k] = '\0';
	snprintf(line, sizeof(line), "0x%" PRIx64 "%s  %-23s  %s\n", in->addr, sym, hex, in->text);
	luaL_addstring(b, line);
}

/* vm:disasm([addr[, n[, {table = true, bits = 16|32|64, vcpu = 0}]]]) -> text or list.
 * addr defaults to RIP (as a linear address: CS base added), n to 10. */
static int vm_disasm(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	check_opts(L, 4);
	lua_Integer vi = opt_int_field(L, 4, "vcpu", 0);
	if (vi < 0 || vi >= vm_vcpu_count(w->vm))
		return luaL_error(L, "option 'vcpu' must be from 0 to %d", vm_vcpu_count(w->vm) - 1);
	int vcpu = (int)vi;
	lua_Integer bits = opt_int_field(L, 4, "bits", 0);
	if (bits != 0 && bits != 16 && bits != 32 && bits != 64)
		return luaL_error(L, "option 'bits' must be 16, 32 or 64");
	uint64_t addr;
	if (lua_isnoneornil(L, 2)) {
		struct kvm_regs r;
		int rc = vm_get_regs(w->vm, vcpu, &r);
		if (rc < 0 || (rc = mmu_seg_linear(w->vm, vcpu, "cs", r.rip, &addr)) < 0)
			return wbl_fail(L, rc);
	} else {
		addr = check_va(L, w, 2, vcpu);
	}
	lua_Integer n = luaL_optinteger(L, 3, 10);
	luaL_argcheck(L, n >= 1 && n <= MAX_DISASM, 3, "count must be from 1 to 10000");
	struct disasm_insn *v = calloc((size_t)n, sizeof(*v));
	if (!v)
		return luaL_error(L, "out of memory");
	int got = disasm_range_bits(w->vm, vcpu, (int)bits, addr, (int)n, v);
	if (got < 0) {
		free(v);
		return wbl_fail(L, got);
	}
	if (opt_bool_field(L, 4, "table")) {
		lua_createtable(L, got, 0);
		for (int i = 0; i < got; i++) {
			push_insn_table(L, w->vm, &v[i]);
			lua_rawseti(L, -2, i + 1);
		}
	} else {
		luaL_Buffer b;
		luaL_buffinit(L, &b);
		for (int i = 0; i < got; i++)
			insn_line(&b, w->vm, &v[i]);
		luaL_pushresult(&b);
	}
	free(v);
	return 1;
}

/* ---- symbols ---- */

/* vm:sym(addr) -> "name+0xoff", name, offset; nil when no symbol covers addr. */
static int vm_sym(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	uint64_t a = (uint64_t)luaL_checkinteger(L, 2);
	uint64_t off = 0;
	const char *name = sym_lookup(vm_symbols(w->vm), a, &off);
	if (!name) {
		lua_pushnil(L);
		return 1;
	}
	char buf[300];
	if (off)
		snprintf(buf, sizeof(buf), "%s+0x%" PRIx64, name, off);
	else
		snprintf(buf, sizeof(buf), "%s", name);
	lua_pushstring(L, buf);
	lua_pushstring(L, name);
	lua_pushinteger(L, (lua_Integer)off);
	return 3;
}

/* vm:addr(name) -> address, or nil, message. "name+0x10" works too. */
static int vm_addr(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	const char *name = luaL_checkstring(L, 2);
	uint64_t a;
	int r = sym_resolve(vm_symbols(w->vm), name, &a);
	if (r < 0) {
		err_set(r, "no symbol '%s'", name);
		return wbl_fail(L, r);
	}
	lua_pushinteger(L, (lua_Integer)a);
	return 1;
}

/* vm:symbols(path) -> number added (ELF or System.map); vm:symbols() -> count. */
static int vm_symbols_m(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	struct symtab *tab = vm_symbols(w->vm);
	if (lua_isnoneornil(L, 2)) {
		lua_pushinteger(L, (lua_Integer)sym_count(tab));
		return 1;
	}
	const char *path = luaL_checkstring(L, 2);
	size_t before = sym_count(tab);
	int r = sym_load_file(tab, path);
	if (r < 0)
		return wbl_fail(L, r);
	lua_pushinteger(L, (lua_Integer)(sym_count(tab) - before));
	return 1;
}

/* ---- MSRs and vector registers ---- */

/* vm:msr(index[, value[, vcpu]]): reads, or writes when value is given. */
static int vm_msr(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	lua_Integer idx = luaL_checkinteger(L, 2);
	luaL_argcheck(L, idx >= 0 && idx <= 0xffffffff, 2, "MSR number must be from 0 to 0xffffffff");
	int vcpu = opt_vcpu(L, w, 4);
	int r;
	if (lua_isnoneornil(L, 3)) {
		uint64_t v;
		if ((r = cpu_get_msr(w->vm, vcpu, (uint32_t)idx, &v)) < 0)
			return wbl_fail(L, r);
		lua_pushinteger(L, (lua_Integer)v);
		return 1;
	}
	lua_Integer v = luaL_checkinteger(L, 3);
	if ((r = cpu_set_msr(w->vm, vcpu, (uint32_t)idx, (uint64_t)v)) < 0)
		return wbl_fail(L, r);
	lua_pushboolean(L, 1);
	return 1;
}

/* Bytes as one hex number, most significant first. */
static void set_hex(lua_State *L, const char *k, const uint8_t *le, size_t n)
{
	char s[2 + 64 + 1] = "0x";
	for (size_t i = 0; i < n && i < 32; i++)
		snprintf(s + 2 + 2 * i, sizeof(s) - 2 - 2 * i, "%02x", le[n - 1 - i]);
	set_str(L, k, s);
}

/* vm:fpu([vcpu]) -> { fcw, fsw, ftw, mxcsr, st0..st7, xmm0..15, ymm0..15 } */
static int vm_fpu(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	int vcpu = opt_vcpu(L, w, 2);
	struct cpu_vector_state v;
	int r = cpu_get_vector_state(w->vm, vcpu, &v);
	if (r < 0)
		return wbl_fail(L, r);
	char k[32];
	lua_createtable(L, 0, 64);
	set_int(L, "fcw", v.fcw);
	set_int(L, "fsw", v.fsw);
	set_int(L, "ftw", v.ftw);
	set_int(L, "fop", v.fop);
	set_int(L, "fip", v.fip);
	set_int(L, "fdp", v.fdp);
	set_int(L, "mxcsr", v.mxcsr);
	set_int(L, "xcr0", v.xcr0);
	set_int(L, "top", (v.fsw >> 11) & 7);
	set_str(L, "source", v.from_xsave ? "xsave" : "fpu");
	for (int i = 0; i < 8; i++) {
		snprintf(k, sizeof(k), "st%d", i);
		set_hex(L, k, v.st[i], 10);
		long double x;
		memset(&x, 0, sizeof(x));
		memcpy(&x, v.st[i], 10);
		snprintf(k, sizeof(k), "st%d_value", i);
		lua_pushnumber(L, (lua_Number)x);
		lua_setfield(L, -2, k);
	}
	for (int i = 0; i < 16; i++) {
		snprintf(k, sizeof(k), "xmm%d", i);
		set_hex(L, k, v.xmm[i], 16);
		if (!v.has_ymm)
			continue;
		uint8_t y[32];
		memcpy(y, v.xmm[i], 16);
		memcpy(y + 16, v.ymmh[i], 16);
		snprintf(k, sizeof(k), "ymm%d", i);
		set_hex(L, k, y, 32);
	}
	return 1;
}

/* ---- the register view ---- */

struct cpu_view {
	struct kvm_regs r;
	struct kvm_sregs s;
	struct kvm_debugregs d;
};

struct cpu_snap {
	bool valid, has_prev;
	uint64_t stop_count;
	struct cpu_view cur, prev;
};

static const char *const gpr_names[] = {
	"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags",
};

static void gprs_of(const struct kvm_regs *r, uint64_t out[18])
{
	const uint64_t v[18] = { r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rsp, r->rbp,
				 r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15,
				 r->rip, r->rflags };
	memcpy(out, v, sizeof(v));
}

static const char *const seg_names[] = { "cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt" };

static const struct kvm_segment *seg_at(const struct kvm_sregs *s, int i)
{
	const struct kvm_segment *v[] = { &s->cs, &s->ds, &s->es, &s->fs, &s->gs, &s->ss, &s->tr, &s->ldt };
	return v[i];
}

static bool seg_equal(const struct kvm_segment *a, const struct kvm_segment *b)
{
	return a->base == b->base && a->limit == b->limit && a->selector == b->selector &&
	       a->type == b->type && a->present == b->present && a->dpl == b->dpl && a->db == b->db &&
	       a->s == b->s && a->l == b->l && a->g == b->g && a->unusable == b->unusable;
}

static void push_segment(lua_State *L, const struct kvm_segment *g)
{
	lua_createtable(L, 0, 11);
	set_int(L, "selector", g->selector);
	set_int(L, "base", g->base);
	set_int(L, "limit", g->limit);
	set_int(L, "type", g->type);
	set_int(L, "dpl", g->dpl);
	set_bool(L, "present", g->present);
	set_bool(L, "db", g->db);
	set_bool(L, "s", g->s);
	set_bool(L, "l", g->l);
	set_bool(L, "g", g->g);
	set_bool(L, "unusable", g->unusable);
}

static void push_dtable(lua_State *L, const char *k, const struct kvm_dtable *t)
{
	lua_createtable(L, 0, 2);
	set_int(L, "base", t->base);
	set_int(L, "limit", t->limit);
	lua_setfield(L, -2, k);
}

static void rflags_text(uint64_t f, char *buf, size_t cap)
{
	static const struct { int bit; const char *name; } names[] = {
		{ 0, "CF" }, { 2, "PF" }, { 4, "AF" }, { 6, "ZF" }, { 7, "SF" }, { 8, "TF" }, { 9, "IF" },
		{ 10, "DF" }, { 11, "OF" }, { 14, "NT" }, { 16, "RF" }, { 17, "VM" }, { 18, "AC" },
		{ 19, "VIF" }, { 20, "VIP" }, { 21, "ID" },
	};
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && used < cap; i++)
		if (f & (1ull << names[i].bit))
			used += (size_t)snprintf(buf + used, cap - used, "%s%s", used ? " " : "", names[i].name);
	if ((f >> 12) & 3 && used < cap)
		snprintf(buf + used, cap - used, "%sIOPL=%d", used ? " " : "", (int)((f >> 12) & 3));
}

static bool canonical_va(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

static const char *cpu_mode_text(const struct kvm_sregs *s)
{
	if (!(s->cr0 & 1))
		return "real";
	if (s->efer & (1ull << 10))
		return s->cs.l ? "long 64-bit" : "long compatibility";
	return s->cs.db ? "protected 32-bit" : "protected 16-bit";
}

/* The names whose values differ between two views, set to true in the table on top. */
static void mark_changed(lua_State *L, const struct cpu_view *a, const struct cpu_view *b)
{
	uint64_t ga[18], gb[18];
	gprs_of(&a->r, ga);
	gprs_of(&b->r, gb);
	for (int i = 0; i < 18; i++)
		if (ga[i] != gb[i])
			set_bool(L, gpr_names[i], true);
	const struct { const char *k; uint64_t x, y; } sr[] = {
		{ "cr0", a->s.cr0, b->s.cr0 }, { "cr2", a->s.cr2, b->s.cr2 }, { "cr3", a->s.cr3, b->s.cr3 },
		{ "cr4", a->s.cr4, b->s.cr4 }, { "cr8", a->s.cr8, b->s.cr8 }, { "efer", a->s.efer, b->s.efer },
		{ "apic_base", a->s.apic_base, b->s.apic_base },
		{ "dr0", a->d.db[0], b->d.db[0] }, { "dr1", a->d.db[1], b->d.db[1] },
		{ "dr2", a->d.db[2], b->d.db[2] }, { "dr3", a->d.db[3], b->d.db[3] },
		{ "dr6", a->d.dr6, b->d.dr6 }, { "dr7", a->d.dr7, b->d.dr7 },
	};
	for (size_t i = 0; i < sizeof(sr) / sizeof(sr[0]); i++)
		if (sr[i].x != sr[i].y)
			set_bool(L, sr[i].k, true);
	for (int i = 0; i < 8; i++)
		if (!seg_equal(seg_at(&a->s, i), seg_at(&b->s, i)))
			set_bool(L, seg_names[i], true);
	if (a->s.gdt.base != b->s.gdt.base || a->s.gdt.limit != b->s.gdt.limit)
		set_bool(L, "gdtr", true);
	if (a->s.idt.base != b->s.idt.base || a->s.idt.limit != b->s.idt.limit)
		set_bool(L, "idtr", true);
}

/* The snapshot kept for the VM userdata at idx, made on first use. */
static struct cpu_snap *snap_of(lua_State *L, int idx)
{
	idx = lua_absindex(L, idx);
	lua_getfield(L, LUA_REGISTRYINDEX, SNAP_KEY);
	lua_pushvalue(L, idx);
	lua_rawget(L, -2);
	struct cpu_snap *s = lua_touserdata(L, -1);
	if (!s) {
		lua_pop(L, 1);
		s = lua_newuserdatauv(L, sizeof(*s), 0);
		memset(s, 0, sizeof(*s));
		lua_pushvalue(L, idx);
		lua_pushvalue(L, -2);
		lua_rawset(L, -4);
	}
	lua_pop(L, 2);   /* the registry table still references it */
	return s;
}

/* Keeps the view of the latest stop; the one before it is what `changed` compares with. */
static void snap_update(struct cpu_snap *s, const struct cpu_view *now, uint64_t stops)
{
	if (!s->valid) {
		s->valid = true;
		s->cur = *now;
		s->stop_count = stops;
	} else if (stops != s->stop_count) {
		s->prev = s->cur;
		s->has_prev = true;
		s->cur = *now;
		s->stop_count = stops;
	}
}

static void push_cpu_view(lua_State *L, const struct cpu_view *v, uint64_t xcr0, bool has_xcr0)
{
	uint64_t g[18];
	char flags[128];
	gprs_of(&v->r, g);
	lua_createtable(L, 0, 48);
	for (int i = 0; i < 18; i++)
		set_int(L, gpr_names[i], g[i]);
	rflags_text(v->r.rflags, flags, sizeof(flags));
	set_str(L, "rflags_names", flags);
	set_int(L, "cr0", v->s.cr0);
	set_int(L, "cr2", v->s.cr2);
	set_int(L, "cr3", v->s.cr3);
	set_int(L, "cr4", v->s.cr4);
	set_int(L, "cr8", v->s.cr8);
	set_int(L, "efer", v->s.efer);
	set_int(L, "apic_base", v->s.apic_base);
	for (int i = 0; i < 8; i++) {
		push_segment(L, seg_at(&v->s, i));
		lua_setfield(L, -2, seg_names[i]);
	}
	push_dtable(L, "gdtr", &v->s.gdt);
	push_dtable(L, "idtr", &v->s.idt);
	for (int i = 0; i < 4; i++) {
		char k[32];
		snprintf(k, sizeof(k), "dr%d", i);
		set_int(L, k, v->d.db[i]);
	}
	set_int(L, "dr6", v->d.dr6);
	set_int(L, "dr7", v->d.dr7);
	if (has_xcr0)
		set_int(L, "xcr0", xcr0);
	set_str(L, "mode", cpu_mode_text(&v->s));
}

/* The register view's text is built in a plain buffer: the cells read
 * fields from the table (argument 1) with the Lua stack, which a
 * luaL_Buffer would be sharing. */
struct text {
	char s[4096];
	size_t n;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(t->s + t->n, sizeof(t->s) - t->n, fmt, ap);
	va_end(ap);
	if (k > 0)
		t->n = t->n + (size_t)k < sizeof(t->s) ? t->n + (size_t)k : sizeof(t->s) - 1;
}

static bool view_changed(lua_State *L, const char *k)
{
	lua_getfield(L, 1, "changed");
	bool changed = lua_istable(L, -1) && lua_getfield(L, -1, k) != LUA_TNIL && lua_toboolean(L, -1);
	lua_settop(L, 1);
	return changed;
}

/* One "name value" cell; '*' marks a register that changed. */
static void view_row(lua_State *L, struct text *t, const char *const *keys)
{
	for (int i = 0; keys[i]; i++) {
		lua_getfield(L, 1, keys[i]);
		uint64_t v = (uint64_t)lua_tointeger(L, -1);
		lua_settop(L, 1);
		text_add(t, "%s%-6s %016" PRIx64 "%c", i ? "  " : "", keys[i], v,
			 view_changed(L, keys[i]) ? '*' : ' ');
	}
	text_add(t, "\n");
}

static lua_Integer seg_int(lua_State *L, const char *k)
{
	lua_getfield(L, 2, k);
	lua_Integer v = lua_tointeger(L, -1);
	lua_pop(L, 1);
	return v;
}

static bool seg_bool(lua_State *L, const char *k)
{
	lua_getfield(L, 2, k);
	bool v = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return v;
}

static void view_segment(lua_State *L, struct text *t, const char *k)
{
	lua_getfield(L, 1, k);
	if (!lua_istable(L, -1)) {
		lua_settop(L, 1);
		return;
	}
	text_add(t, "%-3s %04x base %016" PRIx64 " limit %08x type %x dpl %d%s%s%s%s", k,
		 (unsigned)seg_int(L, "selector"), (uint64_t)seg_int(L, "base"),
		 (unsigned)seg_int(L, "limit"), (unsigned)seg_int(L, "type"), (int)seg_int(L, "dpl"),
		 seg_bool(L, "present") ? " P" : "", seg_bool(L, "db") ? " DB" : "",
		 seg_bool(L, "l") ? " L" : "", seg_bool(L, "g") ? " G" : "");
	lua_settop(L, 1);
	text_add(t, "%s\n", view_changed(L, k) ? "  *" : "");
}

/* print(vm:cpu()): the register view, with '*' on what changed since the previous stop. */
static int cpu_tostring(lua_State *L)
{
	static const char *const rows[][5] = {
		{ "rax", "rbx", "rcx", "rdx", NULL }, { "rsi", "rdi", "rsp", "rbp", NULL },
		{ "r8", "r9", "r10", "r11", NULL }, { "r12", "r13", "r14", "r15", NULL },
		{ "rip", "rflags", NULL }, { "cr0", "cr2", "cr3", "cr4", NULL },
		{ "cr8", "efer", "apic_base", NULL }, { "dr0", "dr1", "dr2", "dr3", NULL }, { "dr6", "dr7", NULL },
	};
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	struct text t = { .n = 0 };
	t.s[0] = '\0';
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		view_row(L, &t, rows[i]);
		if (i != 4)
			continue;
		lua_getfield(L, 1, "rflags_names");
		lua_getfield(L, 1, "mode");
		text_add(&t, "flags  [%s]   mode %s\n", luaL_optstring(L, 2, ""), luaL_optstring(L, 3, "?"));
		lua_settop(L, 1);
	}
	for (int i = 0; i < 8; i++)
		view_segment(L, &t, seg_names[i]);
	text_add(&t, "(* changed since the previous stop)");
	lua_pushstring(L, t.s);
	return 1;
}

/* vm:cpu([vcpu]) -> every register, decoded, with changed = { rax = true, ... }
 * naming what differs from the view taken at the previous stop. */
static int vm_cpu(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	int vcpu = opt_vcpu(L, w, 2);
	struct cpu_view now;
	memset(&now, 0, sizeof(now));
	int r;
	if ((r = vm_get_regs(w->vm, vcpu, &now.r)) < 0 || (r = vm_get_sregs(w->vm, vcpu, &now.s)) < 0)
		return wbl_fail(L, r);
	cpu_get_debugregs(w->vm, vcpu, &now.d);   /* zeros where the host has no DEBUGREGS */
	uint64_t xcr0 = 0;
	bool has_xcr0 = cpu_get_xcr0(w->vm, vcpu, &xcr0) == 0;
	push_cpu_view(L, &now, xcr0, has_xcr0);
	lua_newtable(L);
	if (vcpu == 0) {   /* the stop snapshot follows the vCPU that a stop is reported for */
		struct cpu_snap *s = snap_of(L, 1);
		snap_update(s, &now, vm_stop_count(w->vm));
		if (s->has_prev)
			mark_changed(L, &s->prev, &now);
	}
	lua_setfield(L, -2, "changed");
	luaL_setmetatable(L, CPU_META);
	return 1;
}

void wbl_inspect_note_stop(lua_State *L, int idx)
{
	struct wbl_vm *w = luaL_testudata(L, idx, WBL_VM_META);
	struct cpu_view now;
	memset(&now, 0, sizeof(now));
	if (!w || !w->vm || vm_get_regs(w->vm, 0, &now.r) < 0 || vm_get_sregs(w->vm, 0, &now.s) < 0)
		return;
	cpu_get_debugregs(w->vm, 0, &now.d);
	snap_update(snap_of(L, idx), &now, vm_stop_count(w->vm));
}

/* ---- setting registers, with validation ---- */

/* The integer value of field k in table t, checked against a mask of bits
 * that may be set; false when absent. */
static bool field_u64(lua_State *L, int t, const char *k, __u64 *out)
{
	lua_getfield(L, t, k);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		return false;
	}
	if (!lua_isinteger(L, -1))
		luaL_error(L, "'%s' must be an integer, not %s", k, luaL_typename(L, -1));
	*out = (__u64)lua_tointeger(L, -1);
	lua_pop(L, 1);
	return true;
}

static void check_max(lua_State *L, const char *what, uint64_t v, uint64_t max)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "0x%" PRIx64, max);
	if (v > max)
		luaL_error(L, "%s must be from 0 to %s", what, buf);
}

static const char *hex(char *buf, size_t cap, uint64_t v)
{
	snprintf(buf, cap, "0x%" PRIx64, v);
	return buf;
}

static bool long_mode_code(const struct kvm_sregs *s)
{
	return (s->efer & (1ull << 10)) && s->cs.l;
}

static void merge_segment(lua_State *L, int t, const char *name, struct kvm_segment *g)
{
	lua_getfield(L, t, name);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		return;
	}
	if (!lua_istable(L, -1))
		luaL_error(L, "'%s' must be a table {selector, base, limit, type, dpl, present, db, s, l, g}", name);
	int st = lua_gettop(L);
	__u64 v;
	if (field_u64(L, st, "selector", &v)) { check_max(L, "selector", v, 0xffff); g->selector = (uint16_t)v; }
	if (field_u64(L, st, "base", &v)) g->base = v;
	if (field_u64(L, st, "limit", &v)) { check_max(L, "limit", v, 0xffffffff); g->limit = (uint32_t)v; }
	if (field_u64(L, st, "type", &v)) { check_max(L, "type", v, 15); g->type = (uint8_t)v; }
	if (field_u64(L, st, "dpl", &v)) { check_max(L, "dpl", v, 3); g->dpl = (uint8_t)v; }
	static const char *const bits[] = { "present", "db", "s", "l", "g", "unusable" };
	uint8_t *dst[] = { &g->present, &g->db, &g->s, &g->l, &g->g, &g->unusable };
	for (int i = 0; i < 6; i++) {
		lua_getfield(L, st, bits[i]);
		if (!lua_isnil(L, -1))
			*dst[i] = lua_toboolean(L, -1);
		lua_pop(L, 1);
	}
	if (g->l && g->db)
		luaL_error(L, "%s: L and DB cannot both be set (64-bit code has no 32-bit default)", name);
	lua_pop(L, 1);
}

static void merge_dtable(lua_State *L, int t, const char *name, struct kvm_dtable *d)
{
	lua_getfield(L, t, name);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		return;
	}
	if (!lua_istable(L, -1))
		luaL_error(L, "'%s' must be a table {base, limit}", name);
	__u64 v;
	if (field_u64(L, -1, "base", &v)) d->base = v;
	if (field_u64(L, -1, "limit", &v)) { check_max(L, "limit", v, 0xffff); d->limit = (uint16_t)v; }
	lua_pop(L, 1);
}

#define EFER_KNOWN 0xfd01ull
#define RFLAGS_FIXED1 (1ull << 1)
#define RFLAGS_RESERVED ((1ull << 3) | (1ull << 5) | (1ull << 15) | ~0x3fffffull)

static void check_sregs(lua_State *L, const struct kvm_sregs *s)
{
	if ((s->cr0 >> 32) || (s->cr4 >> 32))
		luaL_error(L, "CR0 and CR4 bits 63..32 are reserved and must be 0");
	if ((s->cr0 & (1ull << 31)) && !(s->cr0 & 1))
		luaL_error(L, "CR0.PG needs CR0.PE: paging exists only in protected mode");
	if ((s->cr0 & (1ull << 29)) && !(s->cr0 & (1ull << 30)))
		luaL_error(L, "CR0.NW without CR0.CD is invalid");
	check_max(L, "cr8", s->cr8, 15);
	if (s->efer & ~EFER_KNOWN)
		luaL_error(L, "EFER has bits only for SCE, LME, LMA, NXE, SVME, LMSLE, FFXSR, TCE (mask 0xfd01)");
}

/* Reads the keys of table 2 into the views, refusing unknown keys. */
static void merge_cpu(lua_State *L, struct cpu_view *v, bool *regs, bool *sregs, bool *dregs)
{
	__u64 *gdst[18] = { &v->r.rax, &v->r.rbx, &v->r.rcx, &v->r.rdx, &v->r.rsi, &v->r.rdi,
			       &v->r.rsp, &v->r.rbp, &v->r.r8, &v->r.r9, &v->r.r10, &v->r.r11,
			       &v->r.r12, &v->r.r13, &v->r.r14, &v->r.r15, &v->r.rip, &v->r.rflags };
	for (int i = 0; i < 18; i++)
		*regs |= field_u64(L, 2, gpr_names[i], gdst[i]);
	const struct { const char *k; __u64 *p; bool *touched; } scalars[] = {
		{ "cr0", &v->s.cr0, sregs }, { "cr2", &v->s.cr2, sregs }, { "cr3", &v->s.cr3, sregs },
		{ "cr4", &v->s.cr4, sregs }, { "cr8", &v->s.cr8, sregs }, { "efer", &v->s.efer, sregs },
		{ "apic_base", &v->s.apic_base, sregs },
		{ "dr0", &v->d.db[0], dregs }, { "dr1", &v->d.db[1], dregs }, { "dr2", &v->d.db[2], dregs },
		{ "dr3", &v->d.db[3], dregs }, { "dr6", &v->d.dr6, dregs }, { "dr7", &v->d.dr7, dregs },
	};
	for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++)
		*scalars[i].touched |= field_u64(L, 2, scalars[i].k, scalars[i].p);
	for (int i = 0; i < 8; i++) {
		struct kvm_segment *segs[] = { &v->s.cs, &v->s.ds, &v->s.es, &v->s.fs, &v->s.gs,
					       &v->s.ss, &v->s.tr, &v->s.ldt };
		lua_getfield(L, 2, seg_names[i]);
		*sregs |= !lua_isnil(L, -1);
		lua_pop(L, 1);
		merge_segment(L, 2, seg_names[i], segs[i]);
	}
	lua_getfield(L, 2, "gdtr");
	lua_getfield(L, 2, "idtr");
	*sregs |= !lua_isnil(L, -1) || !lua_isnil(L, -2);
	lua_pop(L, 2);
	merge_dtable(L, 2, "gdtr", &v->s.gdt);
	merge_dtable(L, 2, "idtr", &v->s.idt);
}

static void check_known_keys(lua_State *L)
{
	static const char *const others[] = { "cr0", "cr2", "cr3", "cr4", "cr8", "efer", "apic_base",
		"dr0", "dr1", "dr2", "dr3", "dr6", "dr7", "gdtr", "idtr", NULL };
	lua_pushnil(L);
	while (lua_next(L, 2)) {
		lua_pop(L, 1);
		const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
		bool known = false;
		for (int i = 0; i < 18 && !known; i++)
			known = strcmp(k, gpr_names[i]) == 0;
		for (int i = 0; i < 8 && !known; i++)
			known = strcmp(k, seg_names[i]) == 0;
		for (int i = 0; others[i] && !known; i++)
			known = strcmp(k, others[i]) == 0;
		if (!known)
			luaL_error(L, "vm:setcpu: no register '%s' (allowed: rax..r15, rip, rflags, cr0-cr8, "
				   "efer, apic_base, dr0-dr3, dr6, dr7, cs..ldt, gdtr, idtr)", k);
	}
}

/* vm:setcpu{ rax = 1, rflags = 0x202, cs = { selector = 8 }, dr7 = 0x1, ... }[, vcpu]:
 * everything is checked before anything is set. */
static int vm_setcpu(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	luaL_checktype(L, 2, LUA_TTABLE);
	int vcpu = opt_vcpu(L, w, 3);
	check_known_keys(L);
	struct cpu_view v;
	memset(&v, 0, sizeof(v));
	int r;
	if ((r = vm_get_regs(w->vm, vcpu, &v.r)) < 0 || (r = vm_get_sregs(w->vm, vcpu, &v.s)) < 0)
		return wbl_fail(L, r);
	bool has_dregs = cpu_get_debugregs(w->vm, vcpu, &v.d) == 0;
	bool regs = false, sregs = false, dregs = false;
	merge_cpu(L, &v, &regs, &sregs, &dregs);
	char h[32];
	if (!(v.r.rflags & RFLAGS_FIXED1) || (v.r.rflags & RFLAGS_RESERVED))
		return luaL_error(L, "rflags %s: bit 1 must be 1 and bits 3, 5, 15, 63..22 must be 0",
				  hex(h, sizeof(h), v.r.rflags));
	if (long_mode_code(&v.s) ? !canonical_va(v.r.rip) : v.r.rip > 0xffffffffull)
		return luaL_error(L, "rip %s is not a valid address in %s mode", hex(h, sizeof(h), v.r.rip),
				  cpu_mode_text(&v.s));
	check_sregs(L, &v.s);
	if ((v.d.dr6 >> 32) || (v.d.dr7 >> 32))
		return luaL_error(L, "DR6 and DR7 are 32-bit registers: bits 63..32 must be 0");
	if (dregs && !has_dregs)
		return luaL_error(L, "this host cannot set debug registers (no KVM_CAP_DEBUGREGS)");
	if ((sregs && (r = vm_set_sregs(w->vm, vcpu, &v.s)) < 0) ||
	    (regs && (r = vm_set_regs(w->vm, vcpu, &v.r)) < 0) ||
	    (dregs && (r = cpu_set_debugregs(w->vm, vcpu, &v.d)) < 0))
		return wbl_fail(L, r);
	lua_pushboolean(L, 1);
	return 1;
}

/* ---- console completion ---- */

int wbl_complete_symbols(lua_State *L, const char *line, int start, const char *text,
			 void (*add)(const char *name))
{
	static const char *const calls[] = { ":addr(\"", ":breakpoint(\"", ":addr('", ":breakpoint('" };
	for (size_t c = 0; c < sizeof(calls) / sizeof(calls[0]); c++) {
		size_t n = strlen(calls[c]);
		if ((size_t)start < n || strncmp(line + start - n, calls[c], n) != 0)
			continue;
		int e = start - (int)n, b = e;   /* the receiver: letters, digits, '_' and '.' before ':' */
		while (b > 0 && (isalnum((unsigned char)line[b - 1]) || line[b - 1] == '_' || line[b - 1] == '.'))
			b--;
		if (b == e)
			return 0;
		int top = lua_gettop(L);
		lua_pushglobaltable(L);
		for (int i = b; i < e && lua_istable(L, -1);) {
			int j = i;
			while (j < e && line[j] != '.')
				j++;
			lua_pushlstring(L, line + i, (size_t)(j - i));
			lua_rawget(L, -2);
			lua_remove(L, -2);
			i = j + 1;
		}
		struct wbl_vm *w = luaL_testudata(L, -1, WBL_VM_META);
		int found = 0;
		if (w && w->vm) {
			struct symtab *tab = vm_symbols(w->vm);
			size_t len = strlen(text), count = sym_count(tab);
			for (size_t i = 0; i < count && found < 1000; i++) {
				const char *name = sym_name_at(tab, i, NULL);
				if (name && strncmp(name, text, len) == 0) {
					add(name);
					found++;
				}
			}
		}
		lua_settop(L, top);
		return found;
	}
	return 0;
}

static const luaL_Reg inspect_methods[] = {
	{ "translate", vm_translate }, { "vread", vm_vread }, { "vwrite", vm_vwrite },
	{ "dump", vm_dump }, { "disasm", vm_disasm }, { "sym", vm_sym }, { "addr", vm_addr },
	{ "symbols", vm_symbols_m }, { "msr", vm_msr }, { "fpu", vm_fpu }, { "cpu", vm_cpu },
	{ "setcpu", vm_setcpu },
	{ NULL, NULL },
};

void wbl_open_inspect_methods(lua_State *L)
{
	lua_getfield(L, -1, "__methods");
	luaL_setfuncs(L, inspect_methods, 0);
	lua_pop(L, 1);
	lua_newtable(L);   /* VM userdata -> struct cpu_snap, forgotten with the VM */
	lua_newtable(L);
	lua_pushstring(L, "k");
	lua_setfield(L, -2, "__mode");
	lua_setmetatable(L, -2);
	lua_setfield(L, LUA_REGISTRYINDEX, SNAP_KEY);
	if (luaL_newmetatable(L, WALK_META)) {
		lua_pushcfunction(L, walk_tostring);
		lua_setfield(L, -2, "__tostring");
	}
	lua_pop(L, 1);
	if (luaL_newmetatable(L, CPU_META)) {
		lua_pushcfunction(L, cpu_tostring);
		lua_setfield(L, -2, "__tostring");
	}
	lua_pop(L, 1);
}
