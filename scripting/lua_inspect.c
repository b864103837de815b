/* lua_inspect: how the debugger's methods read their arguments (vCPU numbers,
 * options tables, addresses), and the inspection of memory: page-table walks
 * (vm:translate), virtual memory (vm:vread, vm:vwrite, vm:dump), MSRs and
 * x87/SSE/AVX registers (vm:fpu). Disassembly and symbols are in lua_disasm.c,
 * the register view and vm:setcpu in lua_cpu.c. Addresses may be integers
 * (linear addresses: with paging off that is the physical address), symbol
 * names ("kmain", "kmain+0x10") or "seg:off" ("ds:0x10" uses the segment's
 * base; "07c0:0010" is real-mode arithmetic, seg * 16 + off; both parts are
 * hex, with or without 0x). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/cpustate.h"
#include "util/err.h"
#include "engine/debug/mmu.h"
#include "engine/debug/symbols.h"
#include "scripting/lua_inspect.h"
#include "engine/core/vm.h"
#include "scripting/lua_wb.h"

#define WALK_META "hvwb.walk"
#define MAX_DUMP (1u << 20)

/* ---- arguments ---- */

int wbl_opt_vcpu(lua_State *L, struct wbl_vm *w, int idx)
{
	lua_Integer i = wbl_optinteger(L, idx, 0);
	int n = vm_vcpu_count(w->vm);
	if (i < 0 || i >= n)
		wbl_argerror(L, idx, lua_pushfstring(L, "vCPU must be from 0 to %d", n - 1));
	return (int)i;
}

/* An integer field of an options table, or def. */
lua_Integer wbl_opt_int_field(lua_State *L, int t, const char *name, lua_Integer def)
{
	if (lua_type(L, t) != LUA_TTABLE)
		return def;
	lua_getfield(L, t, name);
	lua_Integer v = def;
	if (!lua_isnil(L, -1)) {
		if (!lua_isinteger(L, -1))
			wbl_error(L, "option '%s' must be an integer", name);
		v = lua_tointeger(L, -1);
	}
	lua_pop(L, 1);
	return v;
}

bool wbl_opt_bool_field(lua_State *L, int t, const char *name)
{
	if (lua_type(L, t) != LUA_TTABLE)
		return false;
	lua_getfield(L, t, name);
	bool v = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return v;
}

void wbl_check_opts(lua_State *L, int idx)
{
	if (!lua_isnoneornil(L, idx))
		wbl_checktype(L, idx, LUA_TTABLE);
}

/* A hex number with or without 0x, all of text; false if it is not one. */
static bool parse_hex(const char *text, uint64_t *out)
{
	const char *p = text;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	if (!isxdigit((unsigned char)*p))
		return false;
	char *end;
	*out = strtoull(p, &end, 16);
	return *end == '\0';
}

/* "seg:off" with seg a register name or a number, both numbers in hex as in
 * every debugger ("0000:7c00", "0x7c0:0x10", "ds:10"); false if text is not
 * that form. */
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
	uint64_t off, segnum;
	if (!parse_hex(colon + 1, &off))
		wbl_error(L, "'%s': the offset after ':' must be a hex number (\"0000:7c00\", \"ds:0x10\")", text);
	if (parse_hex(seg, &segnum)) {
		if (segnum > 0xffff || off > 0xffff)
			wbl_error(L, "'%s': a real-mode segment and offset are 16-bit (at most ffff)", text);
		*out = (segnum << 4) + off;
		return true;
	}
	if (mmu_seg_linear(w->vm, vcpu, seg, off, out) < 0)
		wbl_error(L, "%s", err_msg());
	return true;
}

/* An address argument: integer, symbol expression or seg:off. */
uint64_t wbl_check_va(lua_State *L, struct wbl_vm *w, int idx, int vcpu)
{
	if (lua_isinteger(L, idx))
		return (uint64_t)lua_tointeger(L, idx);
	if (lua_type(L, idx) != LUA_TSTRING)
		wbl_argerror(L, idx, "address must be an integer, a symbol name or \"seg:off\"");
	const char *s = lua_tostring(L, idx);
	uint64_t a;
	if (seg_off(L, w, vcpu, s, &a))
		return a;
	if (sym_resolve(vm_symbols(w->vm), s, &a) < 0)
		wbl_argerror(L, idx, lua_pushfstring(L, "no symbol '%s' (load an ELF or System.map with vm:symbols)", s));
	return a;
}

void wbl_set_int(lua_State *L, const char *k, uint64_t v)
{
	lua_pushinteger(L, (lua_Integer)v);
	lua_setfield(L, -2, k);
}

void wbl_set_bool(lua_State *L, const char *k, bool v)
{
	lua_pushboolean(L, v);
	lua_setfield(L, -2, k);
}

void wbl_set_str(lua_State *L, const char *k, const char *v)
{
	lua_pushstring(L, v);
	lua_setfield(L, -2, k);
}
/* ---- translate ---- */


static void push_level(lua_State *L, const struct mmu_level *l, bool failed)
{
	static const char *const bit_names[] = { "p", "rw", "us", "pwt", "pcd", "a", "d", "ps", "g", "nx" };
	char flags[64];
	lua_createtable(L, 0, 18);
	wbl_set_str(L, "name", l->name);
	wbl_set_int(L, "table", l->table);
	wbl_set_int(L, "index", l->index);
	wbl_set_int(L, "entry_addr", l->entry_addr);
	wbl_set_int(L, "entry", l->entry);
	mmu_flags_str(l->flags, flags, sizeof(flags));
	wbl_set_str(L, "flags", flags);
	for (unsigned i = 0; i < 10; i++)
		wbl_set_bool(L, bit_names[i], l->flags & (1u << i));
	wbl_set_bool(L, "leaf", l->leaf);
	wbl_set_bool(L, "failed", failed);
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
	wbl_set_int(L, "va", w->va);
	wbl_set_str(L, "mode", mmu_mode_name(w->mode));
	wbl_set_bool(L, "mapped", w->mapped);
	if (w->mapped) {
		wbl_set_int(L, "pa", w->pa);
		wbl_set_int(L, "page_size", w->page_size);
		wbl_set_bool(L, "writable", w->writable);
		wbl_set_bool(L, "user", w->user);
		wbl_set_bool(L, "nx", w->nx);
	} else {
		wbl_set_str(L, "reason", w->reason);
		if (w->fail_level >= 0)
			wbl_set_str(L, "failed", w->level[w->fail_level].name);
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
	int vcpu = wbl_opt_vcpu(L, w, 3);
	uint64_t va = wbl_check_va(L, w, 2, vcpu);
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
	lua_Integer n = wbl_checkinteger(L, idx);
	if (n < 0 || (uint64_t)n > max)
		wbl_argerror(L, idx, lua_pushfstring(L, "length must be from 0 to %I", (lua_Integer)max));
	return (size_t)n;
}

/* vm:vread(va, len[, vcpu]) -> bytes, or nil, message when a page is unmapped. */
static int vm_vread(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	int vcpu = wbl_opt_vcpu(L, w, 4);
	uint64_t va = wbl_check_va(L, w, 2, vcpu);
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
	int vcpu = wbl_opt_vcpu(L, w, 4);
	uint64_t va = wbl_check_va(L, w, 2, vcpu);
	size_t len;
	const char *s = wbl_checklstring(L, 3, &len);
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
	wbl_check_opts(L, 4);
	lua_Integer vi = wbl_opt_int_field(L, 4, "vcpu", 0);
	if (vi < 0 || vi >= vm_vcpu_count(w->vm))
		return wbl_error(L, "option 'vcpu' must be from 0 to %d", vm_vcpu_count(w->vm) - 1);
	bool virt = wbl_opt_bool_field(L, 4, "virtual");
	uint64_t addr = wbl_check_va(L, w, 2, (int)vi);
	size_t len = check_len(L, 3, MAX_DUMP);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return wbl_error(L, "out of memory");
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

/* ---- MSRs and vector registers ---- */

/* vm:msr(index[, value[, vcpu]]): reads, or writes when value is given. */
static int vm_msr(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	lua_Integer idx = wbl_checkinteger(L, 2);
	wbl_argcheck(L, idx >= 0 && idx <= 0xffffffff, 2, "MSR number must be from 0 to 0xffffffff");
	int vcpu = wbl_opt_vcpu(L, w, 4);
	int r;
	if (lua_isnoneornil(L, 3)) {
		uint64_t v;
		if ((r = cpu_get_msr(w->vm, vcpu, (uint32_t)idx, &v)) < 0)
			return wbl_fail(L, r);
		lua_pushinteger(L, (lua_Integer)v);
		return 1;
	}
	lua_Integer v = wbl_checkinteger(L, 3);
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
	wbl_set_str(L, k, s);
}

/* vm:fpu([vcpu]) -> { fcw, fsw, ftw, mxcsr, st0..st7, xmm0..15, ymm0..15 } */
static int vm_fpu(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	int vcpu = wbl_opt_vcpu(L, w, 2);
	struct cpu_vector_state v;
	int r = cpu_get_vector_state(w->vm, vcpu, &v);
	if (r < 0)
		return wbl_fail(L, r);
	char k[32];
	lua_createtable(L, 0, 64);
	wbl_set_int(L, "fcw", v.fcw);
	wbl_set_int(L, "fsw", v.fsw);
	wbl_set_int(L, "ftw", v.ftw);
	wbl_set_int(L, "fop", v.fop);
	wbl_set_int(L, "fip", v.fip);
	wbl_set_int(L, "fdp", v.fdp);
	wbl_set_int(L, "mxcsr", v.mxcsr);
	wbl_set_int(L, "xcr0", v.xcr0);
	wbl_set_int(L, "top", (v.fsw >> 11) & 7);
	wbl_set_str(L, "source", v.from_xsave ? "xsave" : "fpu");
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

static const luaL_Reg inspect_methods[] = {
	{ "translate", vm_translate }, { "vread", vm_vread }, { "vwrite", vm_vwrite },
	{ "dump", vm_dump }, { "msr", vm_msr }, { "fpu", vm_fpu },
	{ NULL, NULL },
};

void wbl_open_inspect_methods(lua_State *L)
{
	lua_getfield(L, -1, "__methods");
	luaL_setfuncs(L, inspect_methods, 0);
	wbl_open_disasm_methods(L);
	wbl_open_cpu_methods(L);
	lua_pop(L, 1);
	if (luaL_newmetatable(L, WALK_META)) {
		lua_pushcfunction(L, walk_tostring);
		lua_setfield(L, -2, "__tostring");
	}
	lua_pop(L, 1);
}
