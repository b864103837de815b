/* lua_wb: the `wb` Lua module. The Lua layer only translates: it checks
 * arguments, calls the engine, and turns results and errors into Lua values.
 * Misuse raises an error saying what is allowed; failures of the outside world
 * (a file that does not load, no /dev/kvm) return nil, message, errno. */
#ifndef HVWB_LUA_WB_H
#define HVWB_LUA_WB_H

#include <lua.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

struct vm;

/* Opens the module into package.loaded.wb and the global `wb`. */
int luaopen_wb(lua_State *L);

/* Runs Lua event callbacks (vm:on) for stops and serial output that happened
 * since the last call. The console calls it from its idle loop. */
void wbl_dispatch_events(lua_State *L);

/* --- shared between the scripting files --- */
#define WBL_VM_META "hvwb.vm"

struct wbl_vm {
	struct vm *vm;                   /* NULL once destroyed */
	uint64_t seen_stops;             /* vm_stop_count at the last dispatch */
	uint64_t seen_serial;            /* serial bytes already given to listeners */
};

struct wbl_vm *wbl_checkvm(lua_State *L, int idx);
/* Pushes the userdata of an engine VM (every VM made from Lua has one). */
void wbl_pushvm(lua_State *L, struct vm *vm);
/* Raises unless the main thread may wait for a VM now (not inside a device callback). */
void wbl_check_may_wait(lua_State *L, const char *what);
/* Pushes "0x1f" for 31: how hvwb writes addresses (Lua integers are signed). */
const char *wbl_pushhex(lua_State *L, uint64_t v);
/* Pushes nil, err_msg(), -code and returns 3: the io.open habit. */
int wbl_fail(lua_State *L, int code);
/* Optional number-of-seconds field of table `idx` as milliseconds (-1: none). */
int64_t wbl_opt_timeout_ms(lua_State *L, int idx);
/* Pushes a stop table: reason, code, vcpu, rip, message, bytes. */
struct vm_stop;
void wbl_pushstop(lua_State *L, const struct vm_stop *s);

void wbl_open_vm_methods(lua_State *L);     /* lua_vm.c: fills the metatable on the stack top */
void wbl_open_device_methods(lua_State *L); /* lua_dev.c: adds device/on methods */
void wbl_open_snapshot_methods(lua_State *L); /* lua_snap.c: snapshot, restore, save, clone */
int wbl_load(lua_State *L);                 /* lua_snap.c: wb.load(path[, name]) */
void wbl_open_inspect_methods(lua_State *L); /* lua_inspect.c (+ lua_disasm.c, lua_cpu.c): translate, disasm, cpu, ... */
/* lua_disasm.c: symbol names for the console when `text` (starting at `start`
 * in `line`) is inside vm:addr(" or vm:breakpoint("; returns how many were added. */
int wbl_complete_symbols(lua_State *L, const char *line, int start, const char *text,
			 void (*add)(const char *name));
/* lua_cpu.c: records vCPU 0's registers as "the last stop" for vm:cpu().changed;
 * for code that returns a stop to Lua (idx: the VM userdata). */
void wbl_inspect_note_stop(lua_State *L, int idx);
void wbl_open_debug_methods(lua_State *L);  /* lua_debug.c: step, breakpoints, watch */
void wbl_open_gdb_methods(lua_State *L);    /* lua_gdb.c: vm:gdbserve */
void wbl_open_linux_methods(lua_State *L);  /* lua_linux.c: load_linux, cpuid */
/* A stop at a breakpoint whose Lua condition returns false: the run should go on. */
/* Raises the error of a breakpoint condition that failed since the last call (lua_debug.c). */
void wbl_condition_error(lua_State *L);
extern bool wbl_in_callback;
/* Set when vm:pause() was called inside a callback: the pause is on its way. */
extern bool wbl_pause_asked;

/* The accelerator name at idx ("auto", "kvm" or "soft"), or an error about argument arg. */
const char *wbl_check_accel(lua_State *L, int idx, int arg);

/* lua_args.c: argument checks that name the method as the user wrote it
 * ("bad argument #2 to 'vm:load' (...)"), drop-in replacements of luaL_check*.
 * wbl_name_functions records prefix..key for every function of table t. */
void wbl_name_functions(lua_State *L, int t, const char *prefix);
int wbl_argerror(lua_State *L, int arg, const char *msg);
/* luaL_error, with "vm:load: " before the message when called from an API function. */
int wbl_error(lua_State *L, const char *fmt, ...);
int wbl_typeerror(lua_State *L, int arg, const char *tname);
void wbl_checktype(lua_State *L, int arg, int t);
void wbl_checkany(lua_State *L, int arg);
lua_Integer wbl_checkinteger(lua_State *L, int arg);
lua_Integer wbl_optinteger(lua_State *L, int arg, lua_Integer def);
lua_Number wbl_checknumber(lua_State *L, int arg);
lua_Number wbl_optnumber(lua_State *L, int arg, lua_Number def);
const char *wbl_checklstring(lua_State *L, int arg, size_t *len);
const char *wbl_optlstring(lua_State *L, int arg, const char *def, size_t *len);
#define wbl_checkstring(L, n) (wbl_checklstring(L, (n), NULL))
#define wbl_optstring(L, n, d) (wbl_optlstring(L, (n), (d), NULL))
#define wbl_argcheck(L, cond, arg, msg) ((void)((cond) || wbl_argerror(L, (arg), (msg))))
/* Argument arg must be one of lst (def when absent): the error lists them. */
int wbl_checkoption(lua_State *L, int arg, const char *def, const char *const lst[]);
/* The same for the value on the stack top, field `field` of the table argument arg. */
int wbl_checkfieldoption(lua_State *L, int arg, const char *field, const char *def,
			 const char *const lst[]);

#endif
