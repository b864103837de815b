/* lua_linux: vm:load_linux{kernel=, initrd=, cmdline=, symbols=, how=} and
 * vm:cpuid([{hide = {...}}]). Only translation: options to the engine's
 * structs, results and errors to Lua values. */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/boot/cpuid.h"
#include "engine/core/vm.h"
#include "scripting/lua_wb.h"

static const char *opt_string(lua_State *L, int t, const char *field)
{
	lua_getfield(L, t, field);
	if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
		wbl_argerror(L, t, lua_pushfstring(L, "%s must be a string, not %s", field,
						       luaL_typename(L, -1)));
	const char *s = lua_tostring(L, -1);
	lua_pop(L, 1);   /* still referenced by the options table */
	return s;
}

static void push_info(lua_State *L, const struct linux_info *in)
{
	lua_createtable(L, 0, 8);
	char proto[16];
	snprintf(proto, sizeof(proto), "%d.%02d", in->version >> 8, in->version & 0xff);
	lua_pushstring(L, proto);
	lua_setfield(L, -2, "protocol");
	lua_pushstring(L, in->kernel_version);
	lua_setfield(L, -2, "version");
	lua_pushinteger(L, (lua_Integer)in->kernel_lo);
	lua_setfield(L, -2, "kernel_start");
	lua_pushinteger(L, (lua_Integer)in->kernel_hi);
	lua_setfield(L, -2, "kernel_end");
	lua_pushinteger(L, (lua_Integer)in->initrd_addr);
	lua_setfield(L, -2, "initrd_addr");
	lua_pushinteger(L, (lua_Integer)in->initrd_size);
	lua_setfield(L, -2, "initrd_size");
	lua_pushinteger(L, in->nsyms);
	lua_setfield(L, -2, "symbols");
	if (in->symbols_note[0]) {
		lua_pushstring(L, in->symbols_note);
		lua_setfield(L, -2, "symbols_note");
	}
	lua_pushstring(L, in->guest_decompresses ? "bzimage" : "vmlinux");
	lua_setfield(L, -2, "entered");
}

/* vm:load_linux{kernel=, initrd=, cmdline=, symbols=, how="auto"|"vmlinux"|"bzimage"} */
static int vm_load_linux_m(lua_State *L)
{
	static const char *const hows[] = { "auto", "vmlinux", "bzimage", NULL };
	struct wbl_vm *w = wbl_checkvm(L, 1);
	wbl_checktype(L, 2, LUA_TTABLE);
	struct vm_linux_opts o = { 0 };
	o.kernel = opt_string(L, 2, "kernel");
	wbl_argcheck(L, o.kernel != NULL, 2, "kernel = path of a bzImage or vmlinux is required");
	o.initrd = opt_string(L, 2, "initrd");
	o.cmdline = opt_string(L, 2, "cmdline");
	o.symbols = opt_string(L, 2, "symbols");
	lua_getfield(L, 2, "how");
	o.how = (enum linux_how)wbl_checkfieldoption(L, 2, "how", "auto", hows);
	lua_pop(L, 1);
	wbl_check_may_wait(L, "vm:load_linux");
	struct linux_info info;
	int r = vm_load_linux(w->vm, &o, &info);
	if (r < 0)
		return wbl_fail(L, r);
	push_info(L, &info);
	return 1;
}

static cpuid_hidden_t check_hide(lua_State *L, int t)
{
	cpuid_hidden_t mask = 0;
	lua_getfield(L, t, "hide");
	wbl_argcheck(L, lua_istable(L, -1), 2, "hide must be a list of feature names");
	lua_Integer n = luaL_len(L, -1);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, -1, i);
		const char *name = lua_tostring(L, -1);
		int idx = name ? cpuid_feature_index(name) : -1;
		if (idx < 0)
			wbl_argerror(L, 2, lua_pushfstring(L, "unknown CPU feature '%s' in hide: known features are %s",
							   name ? name : luaL_typename(L, -1), cpuid_feature_names()));
		mask |= 1ull << idx;
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return mask;
}

static void push_leaves(lua_State *L, const struct kvm_cpuid2 *c)
{
	static const char *const regs[] = { "eax", "ebx", "ecx", "edx" };
	lua_createtable(L, (int)c->nent, 0);
	for (unsigned i = 0; i < c->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &c->entries[i];
		const uint32_t v[4] = { e->eax, e->ebx, e->ecx, e->edx };
		lua_createtable(L, 0, 6);
		lua_pushinteger(L, e->function);
		lua_setfield(L, -2, "leaf");
		lua_pushinteger(L, e->index);
		lua_setfield(L, -2, "subleaf");
		for (int k = 0; k < 4; k++) {
			lua_pushinteger(L, v[k]);
			lua_setfield(L, -2, regs[k]);
		}
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
}

/* The names of the hidden features; with c, only those that c still shows. */
static void push_hidden(lua_State *L, const struct cpuid_feature *f, size_t nf, cpuid_hidden_t hidden,
			const struct kvm_cpuid2 *c)
{
	lua_newtable(L);
	int k = 0;
	for (size_t i = 0; i < nf; i++)
		if (((hidden >> i) & 1) && (!c || cpuid_has(c, &f[i]))) {
			lua_pushstring(L, f[i].name);
			lua_rawseti(L, -2, ++k);
		}
}

/* { hidden = {names}, kept = {names}, features = {name = present}, leaves = {{leaf=, subleaf=, eax=, ...}} } */
static void push_cpuid(lua_State *L, struct vm *vm, const struct kvm_cpuid2 *c)
{
	size_t nf;
	const struct cpuid_feature *f = cpuid_features(&nf);
	cpuid_hidden_t hidden = vm_cpuid_hidden(vm);
	lua_createtable(L, 0, 4);
	push_hidden(L, f, nf, hidden, NULL);
	lua_setfield(L, -2, "hidden");
	push_hidden(L, f, nf, hidden, c);   /* hidden, yet still shown by this host's KVM (PVM: xsave) */
	lua_setfield(L, -2, "kept");
	lua_createtable(L, 0, (int)nf);
	for (size_t i = 0; i < nf; i++) {
		lua_pushboolean(L, cpuid_has(c, &f[i]));
		lua_setfield(L, -2, f[i].name);
	}
	lua_setfield(L, -2, "features");
	push_leaves(L, c);
	lua_setfield(L, -2, "leaves");
}

/* vm:cpuid() -> the table above; vm:cpuid{hide = {"cx16", ...}} sets the hidden
 * set (before the first run) and returns the same. */
static int vm_cpuid_m(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	if (!lua_isnoneornil(L, 2)) {
		wbl_checktype(L, 2, LUA_TTABLE);
		int r = vm_cpuid_hide(w->vm, check_hide(L, 2));
		if (r < 0)
			return wbl_fail(L, r);
	}
	struct kvm_cpuid2 *c;
	int r = vm_cpuid_get(w->vm, 0, &c);
	if (r < 0)
		return wbl_fail(L, r);
	push_cpuid(L, w->vm, c);
	free(c);
	return 1;
}

static const luaL_Reg linux_methods[] = {
	{ "load_linux", vm_load_linux_m }, { "cpuid", vm_cpuid_m }, { NULL, NULL },
};

void wbl_open_linux_methods(lua_State *L)
{
	lua_getfield(L, -1, "__methods");
	luaL_setfuncs(L, linux_methods, 0);
	lua_pop(L, 1);
}
