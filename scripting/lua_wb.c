/* lua_wb: the `wb` table (wb.vm, wb.vms, wb.host, wb.sleep, wb.parse_size) and
 * the helpers the VM methods share. VMs made from Lua stay alive until
 * vm:destroy() or the end of the program: a registry table keeps them, so a VM
 * nobody holds a variable for still shows in wb.vms(). */
#include <errno.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "engine/core/hostcall.h"
#include "engine/debug/probe.h"
#include "engine/core/vm.h"
#include "scripting/lua_wb.h"

#define VMS_KEY "hvwb.vms"   /* registry: lightuserdata(struct vm*) -> userdata */

bool wbl_in_callback;

const char *wbl_pushhex(lua_State *L, uint64_t v)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)v);
	return lua_pushstring(L, buf);
}

int wbl_fail(lua_State *L, int code)
{
	lua_pushnil(L);
	lua_pushstring(L, err_msg());
	lua_pushinteger(L, -code);
	return 3;
}

struct wbl_vm *wbl_checkvm(lua_State *L, int idx)
{
	struct wbl_vm *w = luaL_testudata(L, idx, WBL_VM_META);
	if (!w)
		wbl_typeerror(L, idx, "VM");
	if (!w->vm)
		wbl_error(L, "attempt to use a destroyed VM");
	return w;
}

void wbl_check_may_wait(lua_State *L, const char *what)
{
	if (wbl_in_callback)
		luaL_error(L, "%s cannot be called from inside a device or event callback "
			   "(the vCPU that called it is waiting for the callback to return)", what);
}

static void push_vms_table(lua_State *L)
{
	lua_getfield(L, LUA_REGISTRYINDEX, VMS_KEY);
}

void wbl_pushvm(lua_State *L, struct vm *vm)
{
	push_vms_table(L);
	lua_rawgetp(L, -1, vm);
	lua_remove(L, -2);
}

int64_t wbl_opt_timeout_ms(lua_State *L, int idx)
{
	if (lua_isnoneornil(L, idx))
		return -1;
	wbl_checktype(L, idx, LUA_TTABLE);
	lua_getfield(L, idx, "timeout");
	int64_t ms = -1;
	if (!lua_isnil(L, -1)) {
		int isnum;
		lua_Number s = lua_tonumberx(L, -1, &isnum);
		wbl_argcheck(L, isnum && s >= 0 && s < 1e9, idx, "timeout must be a number of seconds >= 0");
		ms = (int64_t)(s * 1000.0 + 0.5);
	}
	lua_pop(L, 1);
	return ms;
}

/* "step: stepped 1 instruction; at 0x1002e4 <kmain+0x4>: mov edi, 0x1005c5".
 * A crash's message already quotes its instruction, so only paused stops add it. */
static int stop_tostring(lua_State *L)
{
	lua_getfield(L, 1, "reason");
	lua_getfield(L, 1, "message");
	lua_getfield(L, 1, "instruction");
	lua_getfield(L, 1, "symbol");
	lua_getfield(L, 1, "rip");
	const char *reason = wbl_optstring(L, 2, "?"), *insn = lua_tostring(L, 4);
	const char *sym = lua_tostring(L, 5);
	char where[256] = "";
	if (insn && strcmp(reason, "crash") != 0)
		snprintf(where, sizeof(where), "; at 0x%llx%s%s%s: %s", (unsigned long long)lua_tointeger(L, 6),
			 sym ? " <" : "", sym ? sym : "", sym ? ">" : "", insn);
	lua_pushfstring(L, "%s: %s%s", reason, wbl_optstring(L, 3, ""), where);
	return 1;
}

void wbl_pushstop(lua_State *L, const struct vm_stop *s)
{
	lua_createtable(L, 0, 8);
	lua_pushstring(L, vm_stop_kind_name(s->kind));
	lua_setfield(L, -2, "reason");
	lua_pushstring(L, s->reason);
	lua_setfield(L, -2, "message");
	if (s->kind == STOP_EXIT) {
		lua_pushinteger(L, s->exit_code);
		lua_setfield(L, -2, "code");
	}
	if (s->vcpu >= 0) {
		lua_pushinteger(L, s->vcpu);
		lua_setfield(L, -2, "vcpu");
		lua_pushinteger(L, (lua_Integer)s->rip);
		lua_setfield(L, -2, "rip");
	}
	if (s->kind == STOP_BREAKPOINT || s->kind == STOP_WATCH) {
		lua_pushinteger(L, s->breakpoint);
		lua_setfield(L, -2, "breakpoint");
	}
	if (s->kind == STOP_WATCH) {
		lua_pushinteger(L, (lua_Integer)s->watch_addr);
		lua_setfield(L, -2, "address");
		lua_pushinteger(L, (lua_Integer)s->watch_old);
		lua_setfield(L, -2, "old");
		lua_pushinteger(L, (lua_Integer)s->watch_new);
		lua_setfield(L, -2, "new");
		if (s->watch_pc) {
			lua_pushinteger(L, (lua_Integer)s->watch_pc);
			lua_setfield(L, -2, "pc");
		}
	}
	if (s->steps) {
		lua_pushinteger(L, (lua_Integer)s->steps);
		lua_setfield(L, -2, "steps");
	}
	if (s->insn_len) {
		lua_pushlstring(L, (const char *)s->insn, s->insn_len);
		lua_setfield(L, -2, "bytes");
	}
	if (s->insn_text[0]) {
		lua_pushstring(L, s->insn_text);
		lua_setfield(L, -2, "instruction");
	}
	if (s->symbol[0]) {
		lua_pushstring(L, s->symbol);
		lua_setfield(L, -2, "symbol");
	}
	if (luaL_newmetatable(L, "hvwb.stop")) {
		lua_pushcfunction(L, stop_tostring);
		lua_setfield(L, -2, "__tostring");
	}
	lua_setmetatable(L, -2);
}

static uint64_t check_mem_size(lua_State *L, int t)
{
	lua_getfield(L, t, "mem");
	uint64_t size = 64ull << 20;
	if (lua_type(L, -1) == LUA_TNUMBER) {
		lua_Integer n = lua_tointeger(L, -1);
		wbl_argcheck(L, n >= (1 << 20) && (n & 0xfff) == 0, 1,
			      "mem must be at least 1M and a multiple of 4K");
		size = (uint64_t)n;
	} else if (lua_type(L, -1) == LUA_TSTRING) {
		if (vm_parse_size(lua_tostring(L, -1), &size) < 0)
			wbl_argerror(L, 1, err_msg());
	} else if (!lua_isnil(L, -1)) {
		wbl_argerror(L, 1, "mem must be a size such as \"64M\" or a number of bytes");
	}
	lua_pop(L, 1);
	return size;
}

const char *wbl_check_accel(lua_State *L, int idx, int arg)
{
	const char *a = lua_tostring(L, idx);
	if (lua_type(L, idx) != LUA_TSTRING || (strcmp(a, "auto") && strcmp(a, "kvm") && strcmp(a, "soft")))
		wbl_argerror(L, arg, "accel must be \"auto\", \"kvm\" or \"soft\"");
	return a;
}

static int check_vcpus(lua_State *L, int t, const char *accel)
{
	lua_getfield(L, t, "vcpus");
	int n = 1;
	if (!lua_isnil(L, -1)) {
		wbl_argcheck(L, lua_isinteger(L, -1), 1, "vcpus must be an integer");
		lua_Integer v = lua_tointeger(L, -1);
		int max = vm_max_vcpus(accel);
		if (max > 0 && (v < 1 || v > max))
			wbl_argerror(L, 1, lua_pushfstring(L, "vcpus must be from 1 to %d on this host", max));
		n = (int)v;
	}
	lua_pop(L, 1);
	return n;
}

/* wb.vm{ name = "demo", mem = "64M", vcpus = 1 } */
static int wb_vm(lua_State *L)
{
	if (lua_isnoneornil(L, 1))
		lua_newtable(L);
	wbl_checktype(L, 1, LUA_TTABLE);
	struct vm_config cfg = { .vcpus = 1 };
	lua_getfield(L, 1, "name");
	if (!lua_isnil(L, -1)) {
		wbl_argcheck(L, lua_type(L, -1) == LUA_TSTRING, 1, "name must be a string");
		size_t len;
		cfg.name = lua_tolstring(L, -1, &len);
		wbl_argcheck(L, strlen(cfg.name) == len, 1, "name must not contain a zero byte");
	}
	lua_getfield(L, 1, "accel");
	if (!lua_isnil(L, -1)) {
		cfg.accel = wbl_check_accel(L, -1, 1);
	} else {
		cfg.accel = getenv("HVWB_ACCEL");
	}
	lua_pop(L, 1);
	cfg.mem_size = check_mem_size(L, 1);
	cfg.vcpus = check_vcpus(L, 1, cfg.accel);
	if (cfg.name && vm_find(cfg.name))
		return wbl_argerror(L, 1, lua_pushfstring(L, "a VM named '%s' already exists", cfg.name));
	struct wbl_vm *w = lua_newuserdatauv(L, sizeof(*w), 1);
	memset(w, 0, sizeof(*w));
	luaL_setmetatable(L, WBL_VM_META);
	struct vm *vm;
	int r = vm_create(&cfg, &vm);
	if (r < 0)
		return wbl_fail(L, r);
	w->vm = vm;
	push_vms_table(L);
	lua_pushvalue(L, -2);
	lua_rawsetp(L, -2, vm);
	lua_pop(L, 1);
	return 1;
}

/* wb.vms(): every VM, oldest first. */
static int wb_vms(lua_State *L)
{
	struct vm *list[256];
	size_t n = vm_list(list, 256);
	if (n > 256)
		n = 256;
	lua_createtable(L, (int)n, 0);
	int k = 0;
	for (size_t i = 0; i < n; i++) {
		wbl_pushvm(L, list[i]);
		if (lua_isnil(L, -1))
			lua_pop(L, 1);
		else
			lua_rawseti(L, -2, ++k);
	}
	return 1;
}

static void push_debug_probe(lua_State *L, const struct host_probe *p)
{
	for (int ring = 0; ring <= 3; ring += 3) {
		const struct probe_ring *r = &p->ring[ring];
		lua_createtable(L, 0, 4);
		lua_pushboolean(L, r->step);
		lua_setfield(L, -2, "step");
		lua_pushboolean(L, r->hw_break);
		lua_setfield(L, -2, "hw_break");
		lua_pushboolean(L, r->hw_watch);
		lua_setfield(L, -2, "hw_watch");
		lua_pushstring(L, probe_int3_name(r->int3));
		lua_setfield(L, -2, "int3");
		lua_setfield(L, -2, ring ? "ring3" : "ring0");
	}
	lua_pushboolean(L, p->block_irq);
	lua_setfield(L, -2, "block_irq");
}

static void push_accel(lua_State *L, const struct vm_accel_info *i)
{
	lua_createtable(L, 0, 8);
	lua_pushboolean(L, i->usable);
	lua_setfield(L, -2, "usable");
	if (!i->usable) {
		lua_pushstring(L, i->why);
		lua_setfield(L, -2, "error");
		return;
	}
	lua_pushinteger(L, i->max_vcpus);
	lua_setfield(L, -2, "max_vcpus");
	push_debug_probe(L, i->debug);
}

/* wb.host(): the accelerators this host offers and what each can do; the
 * fields of the one new VMs get (accel) are copied to the top level. */
static int wb_host(lua_State *L)
{
	struct vm_accel_info info[4];
	int n = vm_accels(info, 4);
	lua_newtable(L);
	lua_createtable(L, 0, n);
	const struct vm_accel_info *chosen = NULL, *kvm = NULL;
	for (int i = 0; i < n && i < 4; i++) {
		push_accel(L, &info[i]);
		lua_setfield(L, -2, info[i].name);
		if (!chosen && info[i].usable)
			chosen = &info[i];
		if (strcmp(info[i].name, "kvm") == 0)
			kvm = &info[i];
	}
	lua_setfield(L, -2, "accels");
	lua_pushboolean(L, kvm && kvm->usable);
	lua_setfield(L, -2, "kvm");
	if (!chosen) {
		lua_pushstring(L, n ? info[0].why : "no accelerator");
		lua_setfield(L, -2, "error");
		return 1;
	}
	lua_pushstring(L, chosen->name);
	lua_setfield(L, -2, "accel");
	if (kvm && !kvm->usable) {
		lua_pushstring(L, kvm->why);
		lua_setfield(L, -2, "kvm_error");
	}
	lua_pushinteger(L, chosen->max_vcpus);
	lua_setfield(L, -2, "max_vcpus");
	push_debug_probe(L, chosen->debug);
	return 1;
}

/* wb.sleep(seconds): waits while serving devices and events of running VMs. */
static int wb_sleep(lua_State *L)
{
	lua_Number s = wbl_checknumber(L, 1);
	wbl_argcheck(L, s >= 0 && s < 1e6, 1, "seconds must be from 0 to 1e6");
	wbl_check_may_wait(L, "wb.sleep");
	int r = vm_sleep_ms((int64_t)(s * 1000.0));
	wbl_dispatch_events(L);
	if (r == -EINTR)
		return luaL_error(L, "interrupted");
	return 0;
}

/* wb.parse_size("64M") -> 67108864, or nil, message. */
static int wb_parse_size(lua_State *L)
{
	uint64_t n;
	int r = vm_parse_size(wbl_checkstring(L, 1), &n);
	if (r < 0)
		return wbl_fail(L, r);
	lua_pushinteger(L, (lua_Integer)n);
	return 1;
}

static int wb_find(lua_State *L)
{
	struct vm *vm = vm_find(wbl_checkstring(L, 1));
	if (!vm)
		lua_pushnil(L);
	else
		wbl_pushvm(L, vm);
	return 1;
}

static const luaL_Reg wb_funcs[] = {
	{ "vm", wb_vm }, { "vms", wb_vms }, { "find", wb_find }, { "host", wb_host },
	{ "sleep", wb_sleep }, { "parse_size", wb_parse_size }, { "load", wbl_load }, { NULL, NULL },
};

int luaopen_wb(lua_State *L)
{
	lua_newtable(L);
	lua_setfield(L, LUA_REGISTRYINDEX, VMS_KEY);
	luaL_newmetatable(L, WBL_VM_META);
	wbl_open_vm_methods(L);
	wbl_open_device_methods(L);
	wbl_open_snapshot_methods(L);
	wbl_open_inspect_methods(L);
	wbl_open_debug_methods(L);
	wbl_open_gdb_methods(L);
	wbl_open_linux_methods(L);
	lua_getfield(L, -1, "__methods");
	wbl_name_functions(L, -1, "vm:");
	lua_pop(L, 2);
	luaL_newlib(L, wb_funcs);
	wbl_name_functions(L, -1, "wb.");
	lua_pushstring(L, HVWB_VERSION);
	lua_setfield(L, -2, "version");
	lua_pushvalue(L, -1);
	lua_setglobal(L, "wb");
	return 1;
}
