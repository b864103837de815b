/* lua_args: argument checks whose errors name the function as the user wrote
 * it ("bad argument #2 to 'vm:load' (format must be one of ...)"). Lua's own
 * luaL_argerror asks the calling instruction for the name, so a method called
 * through pcall, from a helper or with a negative index comes out as '?' or as
 * "#-1". Here every function of the API is named once, when the module opens
 * (wbl_name_functions), and the check functions below look the running
 * function up by value: they are drop-in replacements of luaL_check*. For a
 * method (a name with ':'), arguments are counted after self, as Lua does. */
#include <lauxlib.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include "scripting/lua_wb.h"

#define NAMES_KEY "hvwb.funcnames"   /* registry: function -> "vm:load" */

void wbl_name_functions(lua_State *L, int t, const char *prefix)
{
	t = lua_absindex(L, t);
	if (lua_getfield(L, LUA_REGISTRYINDEX, NAMES_KEY) != LUA_TTABLE) {
		lua_pop(L, 1);
		lua_newtable(L);
		lua_pushvalue(L, -1);
		lua_setfield(L, LUA_REGISTRYINDEX, NAMES_KEY);
	}
	lua_pushnil(L);
	while (lua_next(L, t)) {
		/* The first name a function gets stays (vm:run before vm:continue). */
		if (lua_iscfunction(L, -1) && lua_type(L, -2) == LUA_TSTRING) {
			lua_pushvalue(L, -1);
			if (lua_rawget(L, -4) == LUA_TNIL) {
				lua_pushvalue(L, -2);
				lua_pushfstring(L, "%s%s", prefix, lua_tostring(L, -4));
				lua_rawset(L, -6);
			}
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

/* Pushes the name of the running C function as the user wrote it; adjusts
 * *arg to the user's count (not counting self in a method). */
static const char *push_name(lua_State *L, int *arg)
{
	lua_Debug ar;
	if (!lua_getstack(L, 0, &ar)) {
		lua_pushliteral(L, "?");
		return lua_tostring(L, -1);
	}
	lua_getinfo(L, "nf", &ar);
	const char *name = NULL;
	if (lua_getfield(L, LUA_REGISTRYINDEX, NAMES_KEY) == LUA_TTABLE) {
		lua_pushvalue(L, -2);
		lua_rawget(L, -2);
		name = lua_tostring(L, -1);
	}
	bool method = ar.namewhat && strcmp(ar.namewhat, "method") == 0;
	const char *colon = name ? strchr(name, ':') : NULL;
	if (colon) {
		(*arg)--;
		/* vm:continue is vm:run under another name: say what the user wrote. */
		if (method && ar.name && strcmp(colon + 1, ar.name) != 0)
			name = lua_pushfstring(L, "%s%s", lua_pushlstring(L, name, (size_t)(colon - name + 1)), ar.name);
	} else if (!name) {
		if (method)
			(*arg)--;
		name = ar.name ? ar.name : "?";
	}
	return lua_pushstring(L, name);
}

/* Whether the running function is one of the API's named functions. */
static bool named_function(lua_State *L)
{
	lua_Debug ar;
	if (!lua_getstack(L, 0, &ar))
		return false;
	int top = lua_gettop(L);
	lua_getinfo(L, "f", &ar);
	bool named = lua_getfield(L, LUA_REGISTRYINDEX, NAMES_KEY) == LUA_TTABLE &&
		     (lua_pushvalue(L, -2), lua_rawget(L, -2) == LUA_TSTRING);
	lua_settop(L, top);
	return named;
}

int wbl_error(lua_State *L, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	const char *msg = lua_pushvfstring(L, fmt, ap);
	va_end(ap);
	int arg = 1;
	if (named_function(L))
		return luaL_error(L, "%s: %s", push_name(L, &arg), msg);
	return luaL_error(L, "%s", msg);
}

int wbl_argerror(lua_State *L, int arg, const char *msg)
{
	const char *name = push_name(L, &arg);
	if (arg == 0)
		return luaL_error(L, "calling '%s' on bad self (%s)", name, msg);
	return luaL_error(L, "bad argument #%d to '%s' (%s)", arg, name, msg);
}

int wbl_typeerror(lua_State *L, int arg, const char *tname)
{
	const char *got;
	if (luaL_getmetafield(L, arg, "__name") == LUA_TSTRING)
		got = lua_tostring(L, -1);
	else if (lua_type(L, arg) == LUA_TLIGHTUSERDATA)
		got = "light userdata";
	else
		got = luaL_typename(L, arg);
	return wbl_argerror(L, arg, lua_pushfstring(L, "%s expected, got %s", tname, got));
}

void wbl_checktype(lua_State *L, int arg, int t)
{
	if (lua_type(L, arg) != t)
		wbl_typeerror(L, arg, lua_typename(L, t));
}

void wbl_checkany(lua_State *L, int arg)
{
	if (lua_type(L, arg) == LUA_TNONE)
		wbl_argerror(L, arg, "value expected");
}

lua_Integer wbl_checkinteger(lua_State *L, int arg)
{
	int isnum;
	lua_Integer v = lua_tointegerx(L, arg, &isnum);
	if (!isnum) {
		if (lua_isnumber(L, arg))
			wbl_argerror(L, arg, "number has no integer representation");
		else
			wbl_typeerror(L, arg, "number");
	}
	return v;
}

lua_Integer wbl_optinteger(lua_State *L, int arg, lua_Integer def)
{
	return lua_isnoneornil(L, arg) ? def : wbl_checkinteger(L, arg);
}

lua_Number wbl_checknumber(lua_State *L, int arg)
{
	int isnum;
	lua_Number v = lua_tonumberx(L, arg, &isnum);
	if (!isnum)
		wbl_typeerror(L, arg, "number");
	return v;
}

lua_Number wbl_optnumber(lua_State *L, int arg, lua_Number def)
{
	return lua_isnoneornil(L, arg) ? def : wbl_checknumber(L, arg);
}

const char *wbl_checklstring(lua_State *L, int arg, size_t *len)
{
	const char *s = lua_tolstring(L, arg, len);
	if (!s)
		wbl_typeerror(L, arg, "string");
	return s;
}

const char *wbl_optlstring(lua_State *L, int arg, const char *def, size_t *len)
{
	if (lua_isnoneornil(L, arg)) {
		if (len)
			*len = def ? strlen(def) : 0;
		return def;
	}
	return wbl_checklstring(L, arg, len);
}

/* "auto, raw, elf or multiboot" */
static const char *push_choices(lua_State *L, const char *const lst[])
{
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	for (int i = 0; lst[i]; i++) {
		if (i)
			luaL_addstring(&b, lst[i + 1] ? ", " : " or ");
		luaL_addchar(&b, '"');
		luaL_addstring(&b, lst[i]);
		luaL_addchar(&b, '"');
	}
	luaL_pushresult(&b);
	return lua_tostring(L, -1);
}

static int find_option(lua_State *L, int idx, int arg, const char *what, const char *def,
		       const char *const lst[])
{
	const char *name = def && lua_isnoneornil(L, idx) ? def : lua_tostring(L, idx);
	if (name && lua_type(L, idx) != LUA_TNUMBER)
		for (int i = 0; lst[i]; i++)
			if (strcmp(lst[i], name) == 0)
				return i;
	const char *choices = push_choices(L, lst);
	if (!name)
		return wbl_argerror(L, arg, lua_pushfstring(L, "%s must be %s, not %s", what ? what : "option",
							     choices, luaL_typename(L, idx)));
	if (!what)
		return wbl_argerror(L, arg, lua_pushfstring(L, "invalid option '%s': use %s", name, choices));
	return wbl_argerror(L, arg, lua_pushfstring(L, "invalid option '%s' for %s: use %s", name, what, choices));
}

int wbl_checkoption(lua_State *L, int arg, const char *def, const char *const lst[])
{
	return find_option(L, arg, arg, NULL, def, lst);
}

int wbl_checkfieldoption(lua_State *L, int arg, const char *field, const char *def,
			 const char *const lst[])
{
	return find_option(L, -1, arg, field, def, lst);
}
