/* lua_disasm: disassembly (vm:disasm, capstone in the CPU's current mode,
 * with symbols), symbols (vm:sym, vm:addr, vm:symbols) and the console's
 * completion of symbol names inside vm:addr(" and vm:breakpoint(". */
#include <ctype.h>
#include <inttypes.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/debug/disasm.h"
#include "engine/debug/mmu.h"
#include "engine/debug/symbols.h"
#include "engine/core/vm.h"
#include "util/err.h"
#include "scripting/lua_inspect.h"
#include "scripting/lua_wb.h"

#define MAX_DISASM 10000

/* ---- disassembly ---- */

static void push_insn_table(lua_State *L, struct vm *vm, const struct disasm_insn *in)
{
	char sym[160];
	lua_createtable(L, 0, 12);
	wbl_set_int(L, "addr", in->addr);
	wbl_set_int(L, "len", in->len);
	lua_pushlstring(L, (const char *)in->bytes, in->len);
	lua_setfield(L, -2, "bytes");
	wbl_set_str(L, "mnemonic", in->mnemonic);
	wbl_set_str(L, "operands", in->operands);
	wbl_set_str(L, "text", in->text);
	wbl_set_bool(L, "valid", in->valid);
	wbl_set_bool(L, "is_call", in->is_call);
	wbl_set_bool(L, "is_ret", in->is_ret);
	wbl_set_bool(L, "is_jump", in->is_jump);
	if (in->has_target)
		wbl_set_int(L, "target", in->target);
	if (disasm_symbolize(vm_symbols(vm), in->addr, sym, sizeof(sym)))
		wbl_set_str(L, "sym", sym);
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
	wbl_check_opts(L, 4);
	lua_Integer vi = wbl_opt_int_field(L, 4, "vcpu", 0);
	if (vi < 0 || vi >= vm_vcpu_count(w->vm))
		return wbl_error(L, "option 'vcpu' must be from 0 to %d", vm_vcpu_count(w->vm) - 1);
	int vcpu = (int)vi;
	lua_Integer bits = wbl_opt_int_field(L, 4, "bits", 0);
	if (bits != 0 && bits != 16 && bits != 32 && bits != 64)
		return wbl_error(L, "option 'bits' must be 16, 32 or 64");
	uint64_t addr;
	if (lua_isnoneornil(L, 2)) {
		struct kvm_regs r;
		int rc = vm_get_regs(w->vm, vcpu, &r);
		if (rc < 0 || (rc = mmu_seg_linear(w->vm, vcpu, "cs", r.rip, &addr)) < 0)
			return wbl_fail(L, rc);
	} else {
		addr = wbl_check_va(L, w, 2, vcpu);
	}
	lua_Integer n = wbl_optinteger(L, 3, 10);
	wbl_argcheck(L, n >= 1 && n <= MAX_DISASM, 3, "count must be from 1 to 10000");
	struct disasm_insn *v = calloc((size_t)n, sizeof(*v));
	if (!v)
		return wbl_error(L, "out of memory");
	int got = disasm_range_bits(w->vm, vcpu, (int)bits, addr, (int)n, v);
	if (got < 0) {
		free(v);
		return wbl_fail(L, got);
	}
	if (wbl_opt_bool_field(L, 4, "table")) {
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
	uint64_t a = (uint64_t)wbl_checkinteger(L, 2);
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
	const char *name = wbl_checkstring(L, 2);
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
	const char *path = wbl_checkstring(L, 2);
	size_t before = sym_count(tab);
	int r = sym_load_file(tab, path);
	if (r < 0)
		return wbl_fail(L, r);
	lua_pushinteger(L, (lua_Integer)(sym_count(tab) - before));
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

static const luaL_Reg disasm_methods[] = {
	{ "disasm", vm_disasm }, { "sym", vm_sym }, { "addr", vm_addr }, { "symbols", vm_symbols_m },
	{ NULL, NULL },
};

void wbl_open_disasm_methods(lua_State *L)
{
	luaL_setfuncs(L, disasm_methods, 0);
}
