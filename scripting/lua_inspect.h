/* lua_inspect.h: argument helpers shared by the inspection methods
 * (lua_inspect.c, lua_disasm.c, lua_cpu.c) and their registration. */
#ifndef HVWB_LUA_INSPECT_H
#define HVWB_LUA_INSPECT_H

#include <lua.h>
#include <stdbool.h>
#include <stdint.h>

struct wbl_vm;

/* Optional vCPU number at idx (default 0), checked against the VM. */
int wbl_opt_vcpu(lua_State *L, struct wbl_vm *w, int idx);
/* An integer field of the options table at t, or def (t may be absent). */
lua_Integer wbl_opt_int_field(lua_State *L, int t, const char *name, lua_Integer def);
bool wbl_opt_bool_field(lua_State *L, int t, const char *name);
/* Raises unless idx is absent, nil or a table. */
void wbl_check_opts(lua_State *L, int idx);
/* An address argument: integer, symbol expression or "seg:off". */
uint64_t wbl_check_va(lua_State *L, struct wbl_vm *w, int idx, int vcpu);
/* Fields of the table on the stack top. */
void wbl_set_int(lua_State *L, const char *k, uint64_t v);
void wbl_set_bool(lua_State *L, const char *k, bool v);
void wbl_set_str(lua_State *L, const char *k, const char *v);

/* Add their methods to the __methods table on the stack top. */
void wbl_open_disasm_methods(lua_State *L);  /* lua_disasm.c: disasm, sym, addr, symbols */
void wbl_open_cpu_methods(lua_State *L);     /* lua_cpu.c: cpu, setcpu */

#endif
