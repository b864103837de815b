/* lua_tui: wb.tui, present while the dashboard runs: wb.tui() tells its
 * refresh rate and size, wb.tui{ rate = 8 } sets the rate (1 to 32 Hz). */
#include <lauxlib.h>

#include "tui/tui_int.h"

static int wb_tui(lua_State *L)
{
	struct tui *t = &tui_g;
	if (!lua_isnoneornil(L, 1)) {
		luaL_checktype(L, 1, LUA_TTABLE);
		if (lua_getfield(L, 1, "rate") != LUA_TNIL) {
			lua_Integer r = luaL_checkinteger(L, -1);
			luaL_argcheck(L, r >= 1 && r <= 32, 1, "rate must be from 1 to 32 (refreshes per second)");
			t->rate_hz = (int)r;
		}
		lua_pop(L, 1);
	}
	lua_createtable(L, 0, 3);
	lua_pushinteger(L, t->rate_hz);
	lua_setfield(L, -2, "rate");
	lua_pushinteger(L, COLS);
	lua_setfield(L, -2, "width");
	lua_pushinteger(L, LINES);
	lua_setfield(L, -2, "height");
	return 1;
}

static void set_field(lua_State *L, bool on)
{
	if (lua_getglobal(L, "wb") == LUA_TTABLE) {
		if (on)
			lua_pushcfunction(L, wb_tui);
		else
			lua_pushnil(L);
		lua_setfield(L, -2, "tui");
	}
	lua_pop(L, 1);
}

void tui_lua_open(struct tui *t)
{
	set_field(t->L, true);
}

void tui_lua_close(struct tui *t)
{
	set_field(t->L, false);
}
