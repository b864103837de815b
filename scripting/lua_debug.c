/* lua_debug: stepping, breakpoints and watchpoints from Lua. Conditions are Lua
 * functions kept in the VM userdata's user value; a breakpoint whose condition
 * says false is stepped over without returning to the caller. */
#include <errno.h>
#include <limits.h>
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "engine/debug/debug.h"
#include "engine/debug/disasm.h"
#include "util/err.h"
#include "engine/core/vm.h"
#include "scripting/lua_inspect.h"
#include "scripting/lua_wb.h"

/* The VM's Lua-side table (user value 1), created on demand, pushed. */
static void push_uservalues(lua_State *L, int vmidx)
{
	if (lua_getiuservalue(L, vmidx, 1) != LUA_TTABLE) {
		lua_pop(L, 1);
		lua_newtable(L);
		lua_pushvalue(L, -1);
		lua_setiuservalue(L, vmidx, 1);
	}
}

/* Address from an integer, a symbol, "symbol+offset" or "seg:off" (vCPU 0's segments). */
static uint64_t check_where(lua_State *L, struct wbl_vm *w, int idx)
{
	return wbl_check_va(L, w, idx, 0);
}

/* vm:breakpoint(where [, condition] [, {soft = bool}]) -> id */
static int vm_breakpoint_m(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	uint64_t addr = check_where(L, w, 2);
	int cond = lua_isfunction(L, 3) ? 3 : 0;
	int opts = lua_istable(L, 3) ? 3 : lua_istable(L, 4) ? 4 : 0;
	wbl_argcheck(L, cond || opts || lua_isnoneornil(L, 3), 3, "expected a condition function or an options table");
	bool soft = false;
	if (opts) {
		lua_getfield(L, opts, "soft");
		soft = lua_toboolean(L, -1);
		lua_pop(L, 1);
	}
	int id = debug_add(w->vm, soft ? DBG_SW_EXEC : DBG_HW_EXEC, addr, 1, false);
	if (id < 0)
		return wbl_error(L, "%s", err_msg());
	if (cond) {
		push_uservalues(L, 1);
		if (lua_getfield(L, -1, "conditions") != LUA_TTABLE) {
			lua_pop(L, 1);
			lua_newtable(L);
			lua_pushvalue(L, -1);
			lua_setfield(L, -3, "conditions");
		}
		lua_pushvalue(L, cond);
		lua_rawseti(L, -2, id);
		debug_set_conditional(w->vm, id, true);   /* the engine asks judge_condition */
	}
	lua_pushinteger(L, id);
	return 1;
}

/* vm:watch(where, size [, "w" | "rw"]) -> id */
static int vm_watch_m(lua_State *L)
{
	static const char *const modes[] = { "w", "rw", NULL };
	struct wbl_vm *w = wbl_checkvm(L, 1);
	uint64_t addr = check_where(L, w, 2);
	lua_Integer len = wbl_optinteger(L, 3, 4);
	int mode = wbl_checkoption(L, 4, "w", modes);
	/* range-checked before it becomes an unsigned: 2^32 + 4 is no 4 */
	wbl_argcheck(L, len == 1 || len == 2 || len == 4 || len == 8, 3,
		     "a watchpoint covers 1, 2, 4 or 8 bytes");
	int id = debug_add(w->vm, mode ? DBG_WATCH_RW : DBG_WATCH_WRITE, addr, (unsigned)len, false);
	if (id < 0)
		return wbl_error(L, "%s", err_msg());
	lua_pushinteger(L, id);
	return 1;
}

static const char *kind_name(enum debug_kind k)
{
	switch (k) {
	case DBG_HW_EXEC: return "hardware";
	case DBG_SW_EXEC: return "software";
	case DBG_WATCH_WRITE: return "watch write";
	default: return "watch access";
	}
}

#define POINT_META "hvwb.breakpoint"

/* "1: hardware at 0x1002e0 <kmain>, enabled, 2 hits" */
static int point_tostring(lua_State *L)
{
	lua_getfield(L, 1, "id");
	lua_getfield(L, 1, "kind");
	lua_getfield(L, 1, "addr");
	lua_getfield(L, 1, "symbol");
	lua_getfield(L, 1, "enabled");
	lua_getfield(L, 1, "hits");
	lua_getfield(L, 1, "size");
	const char *sym = lua_tostring(L, 5);
	bool watch = strncmp(luaL_optstring(L, 3, ""), "watch", 5) == 0;
	lua_pushfstring(L, "%d: %s%s%s at %s%s%s%s, %s, %d hit%s", (int)lua_tointeger(L, 2),
			luaL_optstring(L, 3, "?"), watch ? " of " : "",
			watch ? lua_pushfstring(L, "%d bytes", (int)lua_tointeger(L, 8)) : "",
			wbl_pushhex(L, (uint64_t)lua_tointeger(L, 4)), sym ? " <" : "", sym ? sym : "",
			sym ? ">" : "", lua_toboolean(L, 6) ? "enabled" : "disabled",
			(int)lua_tointeger(L, 7), lua_tointeger(L, 7) == 1 ? "" : "s");
	return 1;
}

/* vm:breakpoints() -> { {id=, kind=, addr=, symbol=, enabled=, hits=, size=}, ... };
 * each prints as "1: hardware at 0x1002e0 <kmain>, enabled, 0 hits". */
static int vm_breakpoints_m(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	struct debug_point pts[DEBUG_MAX_BREAKPOINTS];
	int n = debug_list(w->vm, pts, DEBUG_MAX_BREAKPOINTS);
	lua_createtable(L, n, 0);
	for (int i = 0; i < n; i++) {
		lua_createtable(L, 0, 7);
		lua_pushinteger(L, pts[i].id);
		lua_setfield(L, -2, "id");
		lua_pushstring(L, kind_name(pts[i].kind));
		lua_setfield(L, -2, "kind");
		lua_pushinteger(L, (lua_Integer)pts[i].addr);
		lua_setfield(L, -2, "addr");
		lua_pushinteger(L, pts[i].len);
		lua_setfield(L, -2, "size");
		lua_pushboolean(L, pts[i].enabled);
		lua_setfield(L, -2, "enabled");
		lua_pushinteger(L, (lua_Integer)pts[i].hits);
		lua_setfield(L, -2, "hits");
		uint64_t off;
		const char *name = sym_lookup(vm_symbols(w->vm), pts[i].addr, &off);
		if (name) {
			lua_pushfstring(L, off ? "%s+%s" : "%s", name, wbl_pushhex(L, off));
			lua_remove(L, -2);
			lua_setfield(L, -2, "symbol");
		}
		luaL_setmetatable(L, POINT_META);
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

static int id_call(lua_State *L, int (*fn)(struct vm *, int, bool), bool on)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	lua_Integer id = wbl_checkinteger(L, 2);
	/* range-checked before it becomes an int: 2^32 + 1 is no 1 */
	if (id < 1 || id > INT_MAX)
		return wbl_error(L, "no breakpoint or watchpoint %I", id);
	if (fn(w->vm, (int)id, on) < 0)
		return wbl_error(L, "%s", err_msg());
	lua_settop(L, 1);
	return 1;
}

static int delete_point(struct vm *vm, int id, bool unused)
{
	(void)unused;
	return debug_delete(vm, id);
}

static int vm_delete_m(lua_State *L) { return id_call(L, delete_point, false); }
static int vm_enable_m(lua_State *L) { return id_call(L, debug_enable, true); }
static int vm_disable_m(lua_State *L) { return id_call(L, debug_enable, false); }

/* The engine's condition hook (debug.h): runs on the main thread, between
 * Lua statements, where the VM's stop happened (vm:run, vm:start + vm:wait,
 * vm:next, finish, the dashboard, gdb's continue). The condition gets the VM;
 * an error in it makes the stop stand and reaches the caller of the next
 * vm:run or vm:wait (wbl_condition_error). */
static lua_State *cond_L;
#define COND_ERROR_KEY "hvwb.condition_error"

static int traceback(lua_State *L)
{
	luaL_traceback(L, L, lua_tostring(L, 1), 1);
	return 1;
}

static bool judge_condition(struct vm *vm, int id)
{
	lua_State *L = cond_L;
	if (!L)
		return true;
	int top = lua_gettop(L);
	bool stop = true;
	lua_pushcfunction(L, traceback);
	wbl_pushvm(L, vm);
	int vmidx = lua_gettop(L);
	if (luaL_testudata(L, vmidx, WBL_VM_META) &&
	    lua_getiuservalue(L, vmidx, 1) == LUA_TTABLE &&
	    lua_getfield(L, -1, "conditions") == LUA_TTABLE &&
	    lua_rawgeti(L, -1, id) == LUA_TFUNCTION) {
		lua_pushvalue(L, vmidx);
		bool was = wbl_in_callback;
		wbl_in_callback = true;   /* a condition cannot run or wait for the VM */
		int r = lua_pcall(L, 1, 1, top + 1);
		wbl_in_callback = was;
		if (r == LUA_OK) {
			stop = lua_toboolean(L, -1);
		} else {
			lua_pushfstring(L, "the condition of breakpoint %d failed: %s", id, lua_tostring(L, -1));
			lua_setfield(L, LUA_REGISTRYINDEX, COND_ERROR_KEY);
		}
	}
	lua_settop(L, top);
	return stop;
}

void wbl_condition_error(lua_State *L)
{
	if (lua_getfield(L, LUA_REGISTRYINDEX, COND_ERROR_KEY) != LUA_TSTRING) {
		lua_pop(L, 1);
		return;
	}
	lua_pushnil(L);
	lua_setfield(L, LUA_REGISTRYINDEX, COND_ERROR_KEY);
	lua_error(L);
}

/* The `vcpu` field of an options table at idx (0 when absent), checked. */
static int opt_vcpu(lua_State *L, struct wbl_vm *w, int idx)
{
	if (!lua_istable(L, idx))
		return 0;
	lua_getfield(L, idx, "vcpu");
	lua_Integer v = lua_isnil(L, -1) ? 0 : lua_isinteger(L, -1) ? lua_tointeger(L, -1) : -1;
	lua_pop(L, 1);
	wbl_argcheck(L, v >= 0 && v < vm_vcpu_count(w->vm), idx,
		     "vcpu must be an integer from 0 to the VM's vCPU count - 1");
	return (int)v;
}

/* vm:step([n] [, {interrupts = bool, timeout = seconds, vcpu = i}]) -> stop;
 * a timeout or Ctrl-C ends it with a "timeout" or "interrupt" stop, as vm:run. */
static int vm_step_m(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	lua_Integer n = wbl_optinteger(L, 2, 1);
	wbl_argcheck(L, n >= 1, 2, "the number of instructions must be at least 1");
	struct step_opts o = { .vcpu = opt_vcpu(L, w, 3), .interrupts = false, .timeout_ms = -1 };
	if (lua_istable(L, 3)) {
		lua_getfield(L, 3, "interrupts");
		o.interrupts = lua_toboolean(L, -1);
		lua_pop(L, 1);
		o.timeout_ms = wbl_opt_timeout_ms(L, 3);
	} else {
		wbl_argcheck(L, lua_isnoneornil(L, 3), 3,
			     "options must be a table {interrupts = bool, timeout = seconds, vcpu = i}");
	}
	wbl_check_may_wait(L, "vm:step");
	struct vm_stop stop;
	if (vm_step_with(w->vm, (uint64_t)n, &o, &stop) < 0)
		return wbl_error(L, "%s", err_msg());
	wbl_condition_error(L);
	/* Ctrl-C was answered with a stop: the console's "interrupted!" hook
	 * must not throw it away (as vm:run) */
	if (stop.kind == STOP_INTERRUPT)
		lua_sethook(L, NULL, 0, 0);
	wbl_inspect_note_stop(L, 1);
	wbl_dispatch_events(L);
	wbl_pushstop(L, &stop);
	return 1;
}

/* The instruction at a vCPU's RIP, with its linear address; raises on failure. */
static void current_insn(lua_State *L, struct vm *vm, int vcpu, uint64_t *lin, uint64_t *rsp,
			 struct disasm_insn *insn)
{
	struct kvm_regs r;
	struct kvm_sregs sr;
	if (vm_get_regs(vm, vcpu, &r) < 0 || vm_get_sregs(vm, vcpu, &sr) < 0)
		wbl_error(L, "%s", err_msg());
	*lin = sr.cs.base + r.rip;
	*rsp = r.rsp;
	if (disasm_one(vm, vcpu, *lin, insn) < 0)
		insn->is_call = insn->is_ret = false;
}

/* Runs over the call at the vCPU's RIP to the instruction after it (a
 * temporary breakpoint there, every vCPU running), or steps that vCPU one
 * instruction if it is no call. */
static int next_once(lua_State *L, struct vm *vm, int vcpu, struct vm_stop *stop)
{
	uint64_t lin, rsp;
	struct disasm_insn insn;
	current_insn(L, vm, vcpu, &lin, &rsp, &insn);
	if (!insn.is_call) {
		struct step_opts one = { .vcpu = vcpu, .interrupts = false, .timeout_ms = -1 };
		return vm_step_with(vm, 1, &one, stop);
	}
	int id = debug_add(vm, DBG_HW_EXEC, lin + insn.len, 1, true);
	if (id < 0)
		id = debug_add(vm, DBG_SW_EXEC, lin + insn.len, 1, true);
	if (id < 0)
		return id;
	int r = vm_run(vm, -1, stop);
	/* another vCPU through the same code first: its stop stands */
	if (r == 0 && stop->kind == STOP_BREAKPOINT && stop->breakpoint == id && stop->vcpu == vcpu) {
		stop->kind = STOP_STEP;
		stop->steps = 1;
		snprintf(stop->reason, sizeof(stop->reason), "stepped over the call at 0x%llx",
			 (unsigned long long)lin);
	} else {
		debug_delete(vm, id); /* stopped elsewhere first: the temporary one goes */
	}
	return r;
}

/* vm:next([{vcpu = i}]) -> stop: one instruction, running called functions to their return. */
static int vm_next_m(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	wbl_argcheck(L, lua_isnoneornil(L, 2) || lua_istable(L, 2), 2, "options must be a table {vcpu = i}");
	int vcpu = opt_vcpu(L, w, 2);
	wbl_check_may_wait(L, "vm:next");
	struct vm_stop stop;
	if (next_once(L, w->vm, vcpu, &stop) < 0)
		return wbl_error(L, "%s", err_msg());
	wbl_inspect_note_stop(L, 1);
	wbl_pushstop(L, &stop);
	return 1;
}

/* vm:finish([{vcpu = i}]) -> stop: runs until the current function returns to its caller.
 * Its own ret is the first ret executed with the stack no deeper than now
 * (a nested function's ret runs deeper); calls are run over at full speed. */
static int vm_finish_m(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	wbl_argcheck(L, lua_isnoneornil(L, 2) || lua_istable(L, 2), 2, "options must be a table {vcpu = i}");
	int vcpu = opt_vcpu(L, w, 2);
	wbl_check_may_wait(L, "vm:finish");
	uint64_t lin, rsp0, rsp;
	struct disasm_insn insn;
	struct kvm_regs r;
	if (vm_get_regs(w->vm, vcpu, &r) < 0)
		return wbl_error(L, "%s", err_msg());
	rsp0 = r.rsp;
	struct vm_stop stop;
	for (;;) {
		current_insn(L, w->vm, vcpu, &lin, &rsp, &insn);
		bool last = insn.is_ret && rsp >= rsp0;
		if (next_once(L, w->vm, vcpu, &stop) < 0)
			return wbl_error(L, "%s", err_msg());
		/* A step that ran nothing (a hlt with interrupts held) ends it too. */
		if (stop.kind != STOP_STEP || stop.steps == 0)
			break;
		if (last) {
			snprintf(stop.reason, sizeof(stop.reason), "returned from the function (ret at 0x%llx)",
				 (unsigned long long)lin);
			break;
		}
	}
	wbl_inspect_note_stop(L, 1);
	wbl_pushstop(L, &stop);
	return 1;
}

static const luaL_Reg debug_methods[] = {
	{ "next", vm_next_m }, { "finish", vm_finish_m },
	{ "step", vm_step_m }, { "breakpoint", vm_breakpoint_m }, { "watch", vm_watch_m },
	{ "breakpoints", vm_breakpoints_m }, { "delete", vm_delete_m }, { "enable", vm_enable_m },
	{ "disable", vm_disable_m }, { NULL, NULL },
};

void wbl_open_debug_methods(lua_State *L)
{
	cond_L = L;
	debug_set_condition_hook(judge_condition);
	lua_getfield(L, -1, "__methods");
	luaL_setfuncs(L, debug_methods, 0);
	lua_pop(L, 1);
	if (luaL_newmetatable(L, POINT_META)) {
		lua_pushcfunction(L, point_tostring);
		lua_setfield(L, -2, "__tostring");
	}
	lua_pop(L, 1);
}
