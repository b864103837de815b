/* lua_vm: the methods and fields of a VM userdata: life cycle (load, run,
 * start, pause, resume, destroy), registers as fields (vm.rax, vm.rip = ...),
 * guest memory, the serial console and statistics. */
#include <errno.h>
#include <lauxlib.h>
#include <stddef.h>
#include <string.h>

#include "util/err.h"
#include "devices/uart16550.h"
#include "engine/core/hostcall.h"
#include "engine/core/vm.h"
#include "scripting/lua_wb.h"

/* ---- registers ---- */

struct reg_desc {
	const char *name;
	size_t offset;   /* in struct kvm_regs or struct kvm_sregs */
	bool sreg;
};

#define GPR(n) { #n, offsetof(struct kvm_regs, n), false }
#define SREG(n) { #n, offsetof(struct kvm_sregs, n), true }
static const struct reg_desc reg_table[] = {
	GPR(rax), GPR(rbx), GPR(rcx), GPR(rdx), GPR(rsi), GPR(rdi), GPR(rsp), GPR(rbp),
	GPR(r8), GPR(r9), GPR(r10), GPR(r11), GPR(r12), GPR(r13), GPR(r14), GPR(r15),
	GPR(rip), GPR(rflags),
	SREG(cr0), SREG(cr2), SREG(cr3), SREG(cr4), SREG(cr8), SREG(efer), SREG(apic_base),
	{ "cs", offsetof(struct kvm_sregs, cs.selector), true },
	{ "ds", offsetof(struct kvm_sregs, ds.selector), true },
	{ "es", offsetof(struct kvm_sregs, es.selector), true },
	{ "fs", offsetof(struct kvm_sregs, fs.selector), true },
	{ "gs", offsetof(struct kvm_sregs, gs.selector), true },
	{ "ss", offsetof(struct kvm_sregs, ss.selector), true },
};
#define NREGS (sizeof(reg_table) / sizeof(reg_table[0]))

static const struct reg_desc *find_reg(const char *name)
{
	for (size_t i = 0; i < NREGS; i++)
		if (strcmp(reg_table[i].name, name) == 0)
			return &reg_table[i];
	return NULL;
}

static bool is_selector(const struct reg_desc *d)
{
	return d->sreg && d->name[1] == 's' && d->name[2] == '\0';
}

static uint64_t reg_get(const struct reg_desc *d, const struct kvm_regs *r, const struct kvm_sregs *s)
{
	const uint8_t *base = d->sreg ? (const uint8_t *)s : (const uint8_t *)r;
	if (is_selector(d))
		return *(const uint16_t *)(base + d->offset);
	return *(const uint64_t *)(base + d->offset);
}

static int check_vcpu_arg(lua_State *L, struct wbl_vm *w, int idx)
{
	lua_Integer i = wbl_optinteger(L, idx, 0);
	int n = vm_vcpu_count(w->vm);
	if (i < 0 || i >= n)
		wbl_argerror(L, idx, lua_pushfstring(L, "vCPU must be from 0 to %d", n - 1));
	return (int)i;
}

/* Reads both register sets of a vCPU or raises the engine's message. */
static void get_all_regs(lua_State *L, struct wbl_vm *w, int vcpu, struct kvm_regs *r,
			 struct kvm_sregs *s)
{
	if (vm_get_regs(w->vm, vcpu, r) < 0 || vm_get_sregs(w->vm, vcpu, s) < 0)
		wbl_error(L, "%s", err_msg());
}

/* vm:regs([vcpu]) -> { rax = ..., rip = ..., cr0 = ..., cs = ... } */
static int vm_regs(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	int vcpu = check_vcpu_arg(L, w, 2);
	struct kvm_regs r;
	struct kvm_sregs s;
	get_all_regs(L, w, vcpu, &r, &s);
	lua_createtable(L, 0, (int)NREGS);
	for (size_t i = 0; i < NREGS; i++) {
		lua_pushinteger(L, (lua_Integer)reg_get(&reg_table[i], &r, &s));
		lua_setfield(L, -2, reg_table[i].name);
	}
	return 1;
}

static void set_reg(lua_State *L, struct wbl_vm *w, const struct reg_desc *d, int vidx)
{
	int isnum;
	lua_Integer v = lua_tointegerx(L, vidx, &isnum);
	if (!isnum)
		wbl_error(L, "register %s takes an integer, not %s", d->name, luaL_typename(L, vidx));
	if (is_selector(d))
		wbl_error(L, "segment register %s cannot be set by selector alone (it needs a descriptor)", d->name);
	struct kvm_regs r;
	struct kvm_sregs s;
	get_all_regs(L, w, 0, &r, &s);
	uint8_t *base = d->sreg ? (uint8_t *)&s : (uint8_t *)&r;
	*(uint64_t *)(base + d->offset) = (uint64_t)v;
	/* vm_set_regs and vm_set_sregs check the value (reserved bits, canonical
	 * addresses, RIP for the mode) and read it back */
	int rc = d->sreg ? vm_set_sregs(w->vm, 0, &s) : vm_set_regs(w->vm, 0, &r);
	if (rc < 0)
		wbl_error(L, "cannot set %s: %s", d->name, err_msg());
}

/* ---- life cycle ---- */

static int check_mode(lua_State *L, int t)
{
	static const char *const names[] = { "real", "protected", "long", NULL };
	lua_getfield(L, t, "mode");
	int mode = -1;
	if (lua_type(L, -1) == LUA_TNUMBER) {
		lua_Integer bits = lua_tointeger(L, -1);
		wbl_argcheck(L, bits == 16 || bits == 32 || bits == 64, t, "mode must be 16, 32 or 64");
		mode = bits == 16 ? MODE_REAL16 : bits == 32 ? MODE_PROT32 : MODE_LONG64;
	} else if (!lua_isnil(L, -1)) {
		mode = wbl_checkfieldoption(L, t, "mode", NULL, names);
	}
	lua_pop(L, 1);
	return mode;
}

static uint64_t opt_addr_field(lua_State *L, int t, const char *field)
{
	lua_getfield(L, t, field);
	uint64_t v = 0;
	if (!lua_isnil(L, -1)) {
		if (!lua_isinteger(L, -1))
			wbl_argerror(L, t, lua_pushfstring(L, "%s must be an integer address", field));
		v = (uint64_t)lua_tointeger(L, -1);
	}
	lua_pop(L, 1);
	return v;
}

/* Modules for multiboot: { {path=, string=}, "path", ... }, kept alive on the stack. */
static int check_modules(lua_State *L, int t, struct loader_module *mods, int max)
{
	lua_getfield(L, t, "modules");
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		return 0;
	}
	wbl_argcheck(L, lua_istable(L, -1), 3, "modules must be a list of paths or {path=, string=}");
	int n = (int)luaL_len(L, -1);
	wbl_argcheck(L, n <= max, 3, "too many modules");
	for (int i = 0; i < n; i++) {
		lua_rawgeti(L, -1, i + 1);
		if (lua_isstring(L, -1)) {
			mods[i].path = lua_tostring(L, -1);
			mods[i].string = mods[i].path;
		} else {
			wbl_argcheck(L, lua_istable(L, -1), 3, "a module is a path or {path=, string=}");
			lua_getfield(L, -1, "path");
			lua_getfield(L, -2, "string");
			wbl_argcheck(L, lua_type(L, -2) == LUA_TSTRING && (lua_isnil(L, -1) ||
				     lua_type(L, -1) == LUA_TSTRING), t, "a module is a path or {path=, string=}");
			mods[i].path = lua_tostring(L, -2);
			mods[i].string = lua_isnil(L, -1) ? mods[i].path : lua_tostring(L, -1);
			lua_pop(L, 2);
		}
		lua_pop(L, 1); /* strings stay alive in the modules table */
	}
	lua_pop(L, 1);
	return n;
}

/* vm:load(path [, {format=, addr=, entry=, mode=, cmdline=, modules=}]) */
static int vm_load_m(lua_State *L)
{
	static const char *const formats[] = { "auto", "raw", "elf", "multiboot", NULL };
	struct wbl_vm *w = wbl_checkvm(L, 1);
	const char *path = wbl_checkstring(L, 2);
	struct load_opts o;
	struct loader_module mods[16];
	load_opts_init(&o);
	if (!lua_isnoneornil(L, 3)) {
		wbl_checktype(L, 3, LUA_TTABLE);
		lua_getfield(L, 3, "format");
		o.format = (enum loader_format)wbl_checkfieldoption(L, 3, "format", "auto", formats);
		lua_pop(L, 1);
		o.mode = check_mode(L, 3);
		o.addr = opt_addr_field(L, 3, "addr");
		o.entry = opt_addr_field(L, 3, "entry");
		lua_getfield(L, 3, "cmdline");
		wbl_argcheck(L, lua_isnil(L, -1) || lua_type(L, -1) == LUA_TSTRING, 3, "cmdline must be a string");
		o.cmdline = lua_tostring(L, -1);
		lua_pop(L, 1); /* still referenced by the options table */
		o.nmodules = check_modules(L, 3, mods, 16);
		o.modules = mods;
	}
	wbl_check_may_wait(L, "vm:load");
	/* the loaders blame the entry for an address outside RAM: say it first */
	struct guest_ram ram = vm_ram(w->vm);
	if (!lua_isnoneornil(L, 3) && o.addr && o.addr >= ram.size)
		return wbl_argerror(L, 3, lua_pushfstring(L, "addr %s is outside the VM's RAM (0 to %s)",
							  wbl_pushhex(L, o.addr), wbl_pushhex(L, ram.size - 1)));
	int r = vm_load(w->vm, path, &o);
	if (r < 0)
		return wbl_fail(L, r);
	lua_pushboolean(L, 1);
	return 1;
}

static int push_run_result(lua_State *L, struct wbl_vm *w, int r, const struct vm_stop *stop)
{
	(void)w;
	if (r < 0)
		return wbl_error(L, "%s", err_msg());
	wbl_condition_error(L);
	/* The wait has answered Ctrl-C by pausing the VM: the stop says so, and the
	 * console's "interrupted!" hook must not throw that answer away. */
	if (stop->kind == STOP_INTERRUPT)
		lua_sethook(L, NULL, 0, 0);
	wbl_inspect_note_stop(L, 1);
	wbl_dispatch_events(L);
	wbl_pushstop(L, stop);
	return 1;
}

/* vm:run{timeout = seconds} -> stop table */
static int vm_run_m(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	int64_t ms = wbl_opt_timeout_ms(L, 2);
	wbl_check_may_wait(L, "vm:run");
	struct vm_stop stop;
	/* breakpoint conditions are judged by the engine where the stop happens */
	int r = vm_run(w->vm, ms, &stop);
	return push_run_result(L, w, r, &stop);
}

/* vm:wait{timeout = seconds} -> stop table: for a VM started with vm:start(). */
static int vm_wait_m(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	int64_t ms = wbl_opt_timeout_ms(L, 2);
	wbl_check_may_wait(L, "vm:wait");
	struct vm_stop stop;
	int r = vm_wait(w->vm, ms, &stop);
	return push_run_result(L, w, r, &stop);
}

static int simple_call(lua_State *L, int (*fn)(struct vm *), const char *what)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	wbl_check_may_wait(L, what);
	if (fn(w->vm) < 0)
		return wbl_error(L, "%s", err_msg());
	lua_settop(L, 1);
	return 1;
}

static int vm_start_m(lua_State *L) { return simple_call(L, vm_start, "vm:start"); }

/* Runs on the main thread once the callback that asked has returned (and the
 * vCPU it held has gone on): then vm_pause can wait for the VM to settle. */
static void deferred_pause(void *arg)
{
	struct vm *vm = arg, *list[256];
	size_t n = vm_list(list, 256);
	for (size_t i = 0; i < n && i < 256; i++)
		if (list[i] == vm) {   /* not destroyed meanwhile */
			vm_pause(vm);
			return;
		}
}

/* vm:pause(). Inside a device or event callback the VM cannot settle while
 * the callback holds its vCPU, so the pause is asked for instead, and the call
 * raises to end the callback there: the VM pauses as soon as the callback has
 * returned (the access completes first), and the vm:run() or vm:wait() that
 * waits for the VM returns a "pause" stop. A device handler ended this way
 * does not crash its VM (lua_dev.c). */
bool wbl_pause_asked;

static int vm_pause_m(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	if (!wbl_in_callback)
		return simple_call(L, vm_pause, "vm:pause");
	hostcall_post(deferred_pause, w->vm);
	wbl_pause_asked = true;
	return luaL_error(L, "vm:pause cannot be called from inside a device or event callback to wait "
			  "for the pause (the vCPU that called it is waiting for the callback to return): "
			  "the VM pauses as soon as the callback has returned");
}

static int vm_resume_m(lua_State *L) { return simple_call(L, vm_resume, "vm:resume"); }

static int vm_destroy_m(lua_State *L)
{
	struct wbl_vm *w = luaL_checkudata(L, 1, WBL_VM_META);
	if (!w->vm)
		return 0; /* destroying twice is harmless, as closing a file twice */
	wbl_check_may_wait(L, "vm:destroy");
	lua_getfield(L, LUA_REGISTRYINDEX, "hvwb.vms");
	lua_pushnil(L);
	lua_rawsetp(L, -2, w->vm);
	struct vm *vm = w->vm;
	w->vm = NULL;
	vm_destroy(vm);
	return 0;
}

/* ---- memory ---- */

static uint64_t check_addr(lua_State *L, int idx)
{
	return (uint64_t)wbl_checkinteger(L, idx);
}

static int vm_read_m(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	uint64_t addr = check_addr(L, 2);
	lua_Integer len = wbl_checkinteger(L, 3);
	wbl_argcheck(L, len >= 0 && (uint64_t)len <= vm_mem_size(w->vm), 3, "length out of range");
	luaL_Buffer b;
	char *p = luaL_buffinitsize(L, &b, (size_t)len);
	if (vm_mem_read(w->vm, addr, p, (size_t)len) < 0)
		return wbl_error(L, "%s", err_msg());
	luaL_pushresultsize(&b, (size_t)len);
	return 1;
}

static int vm_write_m(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	uint64_t addr = check_addr(L, 2);
	size_t len;
	const char *s = wbl_checklstring(L, 3, &len);
	if (vm_mem_write(w->vm, addr, s, len) < 0)
		return wbl_error(L, "%s", err_msg());
	lua_settop(L, 1);
	return 1;
}

static int read_n(lua_State *L, size_t n)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	uint64_t v = 0;
	if (vm_mem_read(w->vm, check_addr(L, 2), &v, n) < 0)
		return wbl_error(L, "%s", err_msg());
	lua_pushinteger(L, (lua_Integer)v);
	return 1;
}

static int write_n(lua_State *L, size_t n)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	uint64_t addr = check_addr(L, 2);
	uint64_t v = (uint64_t)wbl_checkinteger(L, 3);
	/* Accept the value as unsigned or as signed n-byte number, nothing wider. */
	if (n < 8) {
		int64_t sv = (int64_t)v, lo = -(1ll << (8 * n - 1));
		if (sv < lo || (sv >= 0 && v >> (8 * n)))
			wbl_argerror(L, 3, lua_pushfstring(L, "value does not fit in %d bytes", (int)n));
	}
	if (vm_mem_write(w->vm, addr, &v, n) < 0)
		return wbl_error(L, "%s", err_msg());
	lua_settop(L, 1);
	return 1;
}

static int vm_read8(lua_State *L) { return read_n(L, 1); }
static int vm_read16(lua_State *L) { return read_n(L, 2); }
static int vm_read32(lua_State *L) { return read_n(L, 4); }
static int vm_read64(lua_State *L) { return read_n(L, 8); }
static int vm_write8(lua_State *L) { return write_n(L, 1); }
static int vm_write16(lua_State *L) { return write_n(L, 2); }
static int vm_write32(lua_State *L) { return write_n(L, 4); }
static int vm_write64(lua_State *L) { return write_n(L, 8); }

/* ---- serial ---- */

/* vm:serial() -> everything the guest printed that is still kept;
 * vm:serial{clear = true} also forgets it. */
static int vm_serial_m(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	bool clear = false;
	if (!lua_isnoneornil(L, 2)) {
		wbl_checktype(L, 2, LUA_TTABLE);
		lua_getfield(L, 2, "clear");
		clear = lua_toboolean(L, -1);
	}
	luaL_Buffer b;
	char *p = luaL_buffinitsize(L, &b, UART_RING_SIZE);
	size_t n = vm_serial_output(w->vm, p, UART_RING_SIZE);
	luaL_pushresultsize(&b, n);
	if (clear)
		vm_serial_clear(w->vm);
	return 1;
}

static int vm_send_m(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	size_t len;
	const char *s = wbl_checklstring(L, 2, &len);
	lua_pushinteger(L, (lua_Integer)vm_serial_input(w->vm, s, len));
	return 1;
}

/* ---- statistics ---- */

static void push_addr_table(lua_State *L, const struct addr_table *t)
{
	struct addr_count top[STATS_ADDR_SLOTS];
	size_t n = stats_top(t, top, STATS_ADDR_SLOTS);
	lua_createtable(L, 0, (int)n);
	for (size_t i = 0; i < n; i++) {
		lua_pushinteger(L, (lua_Integer)top[i].count);
		lua_rawseti(L, -2, (lua_Integer)top[i].addr);
	}
}

static void push_vcpu_stats(lua_State *L, const struct vcpu_stats *s)
{
	lua_newtable(L);
	lua_newtable(L);
	for (unsigned i = 0; i < STATS_EXIT_REASONS; i++) {
		if (!s->exits[i])
			continue;
		lua_pushinteger(L, (lua_Integer)s->exits[i]);
		lua_setfield(L, -2, stats_exit_name(i));
	}
	lua_pushinteger(L, (lua_Integer)stats_total_exits(s));
	lua_setfield(L, -2, "total");
	lua_setfield(L, -2, "exits");
	lua_pushinteger(L, (lua_Integer)s->kicks);
	lua_setfield(L, -2, "kicks");
	lua_pushnumber(L, (lua_Number)s->guest_ns / 1e9);
	lua_setfield(L, -2, "guest_time");
	lua_pushnumber(L, (lua_Number)s->handle_ns / 1e9);
	lua_setfield(L, -2, "handle_time");
	lua_pushinteger(L, (lua_Integer)s->unclaimed);
	lua_setfield(L, -2, "unclaimed");
	if (s->has_instructions) {
		lua_pushinteger(L, (lua_Integer)s->instructions);
		lua_setfield(L, -2, "instructions");
	}
	push_addr_table(L, &s->io);
	lua_setfield(L, -2, "ports");
	push_addr_table(L, &s->mmio);
	lua_setfield(L, -2, "mmio");
}

static void set_kvm_stat(void *arg, const char *name, uint64_t value)
{
	lua_State *L = arg;
	lua_pushinteger(L, (lua_Integer)value);
	lua_setfield(L, -2, name);
}

/* vm:stats() -> totals of every vCPU, plus .vcpus[i], memory and KVM's own counters. */
static int vm_stats_m(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	struct vm_stats st;
	if (vm_stats(w->vm, &st) < 0)
		return wbl_error(L, "%s", err_msg());
	push_vcpu_stats(L, &st.total);
	lua_createtable(L, st.nvcpus, 0);
	for (int i = 0; i < st.nvcpus; i++) {
		push_vcpu_stats(L, &st.vcpu[i]);
		lua_rawseti(L, -2, i);
	}
	lua_setfield(L, -2, "vcpus");
	lua_pushinteger(L, (lua_Integer)st.mem_size);
	lua_setfield(L, -2, "mem");
	lua_pushinteger(L, (lua_Integer)st.resident_bytes);
	lua_setfield(L, -2, "resident");
	lua_pushnumber(L, (lua_Number)st.run_ns / 1e9);
	lua_setfield(L, -2, "run_time");
	vm_stats_free(&st);
	lua_newtable(L);
	vm_kvm_stats(w->vm, -1, set_kvm_stat, L);
	lua_setfield(L, -2, "kvm");
	return 1;
}

/* ---- fields ---- */

static int vm_index(lua_State *L)
{
	struct wbl_vm *w = luaL_checkudata(L, 1, WBL_VM_META);
	const char *key = wbl_checkstring(L, 2);
	lua_getmetatable(L, 1);
	lua_getfield(L, -1, "__methods");
	lua_getfield(L, -1, key);
	if (!lua_isnil(L, -1))
		return 1;
	if (!w->vm)
		return wbl_error(L, "attempt to use a destroyed VM");
	if (strcmp(key, "state") == 0) {
		lua_pushstring(L, vm_state_name(vm_state(w->vm)));
	} else if (strcmp(key, "name") == 0) {
		lua_pushstring(L, vm_name(w->vm));
	} else if (strcmp(key, "vcpus") == 0) {
		lua_pushinteger(L, vm_vcpu_count(w->vm));
	} else if (strcmp(key, "accel") == 0) {
		lua_pushstring(L, vm_accel(w->vm));
	} else if (strcmp(key, "mem") == 0) {
		lua_pushinteger(L, (lua_Integer)vm_mem_size(w->vm));
	} else if (strcmp(key, "stop") == 0) {
		struct vm_stop s;
		vm_last_stop(w->vm, &s);
		wbl_pushstop(L, &s);
	} else {
		const struct reg_desc *d = find_reg(key);
		if (!d)
			return wbl_error(L, "VM has no method or field '%s'", key);
		struct kvm_regs r;
		struct kvm_sregs s;
		get_all_regs(L, w, 0, &r, &s);
		lua_pushinteger(L, (lua_Integer)reg_get(d, &r, &s));
	}
	return 1;
}

static int vm_newindex(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	const char *key = wbl_checkstring(L, 2);
	const struct reg_desc *d = find_reg(key);
	if (!d)
		return wbl_error(L, "cannot set '%s': only registers (rax, rip, cr3, ...) can be assigned", key);
	set_reg(L, w, d, 3);
	return 0;
}

static int vm_tostring(lua_State *L)
{
	struct wbl_vm *w = luaL_checkudata(L, 1, WBL_VM_META);
	if (!w->vm)
		lua_pushstring(L, "vm (destroyed)");
	else
		lua_pushfstring(L, "vm %s (%s, %d vCPU, %d MiB)", vm_name(w->vm),
				vm_state_name(vm_state(w->vm)), vm_vcpu_count(w->vm),
				(int)(vm_mem_size(w->vm) >> 20));
	return 1;
}

static int vm_gc(lua_State *L)
{
	struct wbl_vm *w = luaL_checkudata(L, 1, WBL_VM_META);
	if (w->vm) {
		vm_destroy(w->vm);
		w->vm = NULL;
	}
	return 0;
}

static const luaL_Reg vm_methods[] = {
	{ "load", vm_load_m }, { "run", vm_run_m }, { "continue", vm_run_m }, { "wait", vm_wait_m },
	{ "start", vm_start_m }, { "pause", vm_pause_m }, { "resume", vm_resume_m },
	{ "destroy", vm_destroy_m }, { "regs", vm_regs },
	{ "read", vm_read_m }, { "write", vm_write_m },
	{ "read8", vm_read8 }, { "read16", vm_read16 }, { "read32", vm_read32 }, { "read64", vm_read64 },
	{ "write8", vm_write8 }, { "write16", vm_write16 }, { "write32", vm_write32 },
	{ "write64", vm_write64 },
	{ "serial", vm_serial_m }, { "send", vm_send_m }, { "stats", vm_stats_m },
	{ NULL, NULL },
};

void wbl_open_vm_methods(lua_State *L)
{
	luaL_newlib(L, vm_methods);
	lua_setfield(L, -2, "__methods");
	lua_pushcfunction(L, vm_index);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, vm_newindex);
	lua_setfield(L, -2, "__newindex");
	lua_pushcfunction(L, vm_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_pushcfunction(L, vm_gc);
	lua_setfield(L, -2, "__gc");
	lua_pushcfunction(L, vm_gc);
	lua_setfield(L, -2, "__close");
}
