/* lua_gdb: vm:gdbserve([addr,] port), which lets gdb debug the VM over TCP
 * (engine/gdbstub.c). It blocks like vm:run until gdb detaches, kills or
 * disconnects, and says on stderr where it listens, since port 0 picks one. */
#include <lauxlib.h>
#include <stdio.h>

#include "engine/debug/gdbstub.h"
#include "engine/core/vm.h"
#include "scripting/lua_wb.h"

static void say_listening(void *arg, const char *addr, int port)
{
	fprintf(stderr, "gdb: VM %s waiting for gdb on %s:%d (target remote %s:%d)\n",
		(const char *)arg, addr, port, addr, port);
	fflush(stderr);
}

static int vm_gdbserve(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	struct gdb_options opt = { .on_listen = say_listening, .arg = (void *)vm_name(w->vm) };
	int port_idx = 2;
	if (lua_type(L, 2) == LUA_TSTRING && !lua_isnumber(L, 2)) {
		opt.addr = lua_tostring(L, 2);
		port_idx = 3;
	} else if (lua_isnil(L, 2) && !lua_isnoneornil(L, 3)) {
		port_idx = 3; /* vm:gdbserve(nil, port): the default address */
	}
	lua_Integer port = wbl_checkinteger(L, port_idx);
	wbl_argcheck(L, port >= 0 && port <= 65535, port_idx, "a TCP port (0 for any free port)");
	opt.port = (int)port;
	wbl_check_may_wait(L, "vm:gdbserve");
	enum gdb_end end;
	int r = gdb_serve(w->vm, &opt, &end);
	if (r < 0)
		return wbl_fail(L, r);
	lua_createtable(L, 0, 1);
	lua_pushstring(L, gdb_end_name(end));
	lua_setfield(L, -2, "reason");
	return 1;
}

static const luaL_Reg gdb_methods[] = {
	{ "gdbserve", vm_gdbserve },
	{ NULL, NULL },
};

void wbl_open_gdb_methods(lua_State *L)
{
	lua_getfield(L, -1, "__methods");
	luaL_setfuncs(L, gdb_methods, 0);
	lua_pop(L, 1);
}
