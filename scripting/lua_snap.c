/* lua_snap: snapshots, files and clones from Lua: vm:snapshot, vm:snapshots,
 * vm:delete_snapshot, vm:restore, vm:save, vm:clone and wb.load. A snapshot
 * handle holds only the snapshot's id, so a handle that outlives its snapshot
 * (deleted, or its VM destroyed) raises a clear error instead of touching
 * freed memory. The operations that can be timed return the seconds they took
 * as an extra value, which the benchmarks read. */
#include <errno.h>
#include <lauxlib.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/err.h"
#include "engine/state/snapshot.h"
#include "engine/core/vm.h"
#include "scripting/lua_wb.h"

#define SNAP_META "hvwb.snapshot"

struct wbl_snap {
	uint64_t id;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct snap *check_snap(lua_State *L, int idx)
{
	struct wbl_snap *h = luaL_checkudata(L, idx, SNAP_META);
	struct snap *s = snap_find(h->id);
	if (!s)
		wbl_error(L, "snapshot %d no longer exists (deleted, or its VM was destroyed)", (int)h->id);
	return s;
}

static void push_snap(lua_State *L, struct snap *s)
{
	struct wbl_snap *h = lua_newuserdatauv(L, sizeof(*h), 0);
	h->id = snap_id(s);
	luaL_setmetatable(L, SNAP_META);
}

/* A VM the engine made (clone, load) gets its userdata and a place in the
 * registry table wb.vms() reads, like one made by wb.vm. */
static void push_new_vm(lua_State *L, struct vm *vm)
{
	struct wbl_vm *w = lua_newuserdatauv(L, sizeof(*w), 1);
	memset(w, 0, sizeof(*w));
	w->vm = vm;
	w->seen_serial = vm_serial_total(vm);
	luaL_setmetatable(L, WBL_VM_META);
	lua_getfield(L, LUA_REGISTRYINDEX, "hvwb.vms");
	lua_pushvalue(L, -2);
	lua_rawsetp(L, -2, vm);
	lua_pop(L, 1);
}

/* A name at idx (an argument, or a field of the table argument arg). */
static const char *opt_name(lua_State *L, int idx, int arg, const char *what)
{
	if (lua_isnoneornil(L, idx))
		return NULL;
	if (lua_type(L, idx) != LUA_TSTRING)
		wbl_argerror(L, arg, lua_pushfstring(L, "%s must be a string", what));
	return lua_tostring(L, idx);
}

/* vm:snapshot([name]) -> snapshot, seconds */
static int vm_snapshot_m(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	const char *name = opt_name(L, 2, 2, "the snapshot name");
	wbl_check_may_wait(L, "vm:snapshot");
	double t0 = now_s();
	struct snap *s;
	int r = snap_take(w->vm, name, &s);
	double dt = now_s() - t0;
	if (r < 0)
		return wbl_fail(L, r);
	push_snap(L, s);
	lua_pushnumber(L, dt);
	return 2;
}

/* vm:snapshots() -> { snapshot, ... } oldest first */
static int vm_snapshots_m(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	size_t n = snap_list(w->vm, NULL, 0);
	lua_createtable(L, (int)n, 0);
	if (n == 0)
		return 1;
	struct snap **list = lua_newuserdatauv(L, n * sizeof(*list), 0);
	snap_list(w->vm, list, n);
	for (size_t i = 0; i < n; i++) {
		push_snap(L, list[i]);
		lua_rawseti(L, -3, (lua_Integer)i + 1);
	}
	lua_pop(L, 1);
	return 1;
}

static int vm_delete_snapshot_m(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	struct snap *s = check_snap(L, 2);
	wbl_argcheck(L, snap_vm(s) == w->vm, 2, "the snapshot belongs to another VM");
	snap_delete(s);
	return 0;
}

/* vm:restore(snapshot | path) -> true, seconds | nil, message */
static int vm_restore_m(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	struct snap *s = NULL;
	const char *path = NULL;
	if (lua_type(L, 2) == LUA_TSTRING)
		path = lua_tostring(L, 2);
	else if (luaL_testudata(L, 2, SNAP_META))
		s = check_snap(L, 2);
	else
		return wbl_argerror(L, 2, "a snapshot (vm:snapshot()) or a file name (vm:save()) expected");
	wbl_check_may_wait(L, "vm:restore");
	double t0 = now_s();
	int r = s ? snap_restore(w->vm, s) : snap_restore_file(w->vm, path);
	double dt = now_s() - t0;
	if (r < 0)
		return wbl_fail(L, r);
	w->seen_serial = vm_serial_total(w->vm);
	lua_pushboolean(L, 1);
	lua_pushnumber(L, dt);
	return 2;
}

/* vm:save(path) -> true, seconds | nil, message */
static int vm_save_m(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	const char *path = wbl_checkstring(L, 2);
	wbl_check_may_wait(L, "vm:save");
	double t0 = now_s();
	int r = snap_save(w->vm, path);
	double dt = now_s() - t0;
	if (r < 0)
		return wbl_fail(L, r);
	lua_pushboolean(L, 1);
	lua_pushnumber(L, dt);
	return 2;
}

/* vm:clone{ name = } -> vm, seconds | nil, message */
static int vm_clone_m(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	const char *name = NULL;
	if (!lua_isnoneornil(L, 2)) {
		wbl_checktype(L, 2, LUA_TTABLE);
		lua_getfield(L, 2, "name");
		name = opt_name(L, -1, 2, "name");
	}
	if (name && vm_find(name))
		return wbl_argerror(L, 2, lua_pushfstring(L, "a VM named '%s' already exists", name));
	wbl_check_may_wait(L, "vm:clone");
	double t0 = now_s();
	struct vm *c;
	int r = snap_clone(w->vm, name, &c);
	double dt = now_s() - t0;
	if (r < 0)
		return wbl_fail(L, r);
	push_new_vm(L, c);
	lua_pushnumber(L, dt);
	return 2;
}

/* wb.load(path[, name | {name =, accel =}]) -> vm, seconds | nil, message.
 * The accelerator defaults as for wb.vm: HVWB_ACCEL, else the fastest here. */
int wbl_load(lua_State *L)
{
	const char *path = wbl_checkstring(L, 1);
	const char *name = NULL, *accel = getenv("HVWB_ACCEL");
	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "name");
		name = opt_name(L, -1, 2, "name");
		lua_getfield(L, 2, "accel");
		if (!lua_isnil(L, -1))
			accel = wbl_check_accel(L, -1, 2);
	} else {
		name = opt_name(L, 2, 2, "the VM name");
	}
	if (name && vm_find(name))
		return wbl_argerror(L, 2, lua_pushfstring(L, "a VM named '%s' already exists", name));
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {   /* mmap would say "No such device" */
		lua_pushnil(L);
		lua_pushfstring(L, "cannot load %s: it is a directory, not a snapshot file", path);
		lua_pushinteger(L, EISDIR);
		return 3;
	}
	double t0 = now_s();
	struct vm *vm;
	int r = snap_load(path, name, accel, &vm);
	double dt = now_s() - t0;
	if (r < 0)
		return wbl_fail(L, r);
	push_new_vm(L, vm);
	lua_pushnumber(L, dt);
	return 2;
}

/* ---- the snapshot handle ---- */

static int snap_delete_m(lua_State *L)
{
	snap_delete(check_snap(L, 1));
	return 0;
}

static int snap_index(lua_State *L)
{
	const char *key = wbl_checkstring(L, 2);
	if (strcmp(key, "delete") == 0) {
		lua_pushcfunction(L, snap_delete_m);
		return 1;
	}
	struct wbl_snap *h = luaL_checkudata(L, 1, SNAP_META);
	if (strcmp(key, "id") == 0) {
		lua_pushinteger(L, (lua_Integer)h->id);
		return 1;
	}
	struct snap *s = check_snap(L, 1);
	if (strcmp(key, "name") == 0)
		lua_pushstring(L, snap_name(s));
	else if (strcmp(key, "vm") == 0)
		wbl_pushvm(L, snap_vm(s));
	else if (strcmp(key, "size") == 0)
		lua_pushinteger(L, (lua_Integer)snap_state_size(s));
	else
		lua_pushnil(L);
	return 1;
}

static int snap_tostring(lua_State *L)
{
	struct wbl_snap *h = luaL_checkudata(L, 1, SNAP_META);
	struct snap *s = snap_find(h->id);
	if (!s)
		lua_pushfstring(L, "snapshot %d (deleted)", (int)h->id);
	else
		lua_pushfstring(L, "snapshot %s of %s", snap_name(s), vm_name(snap_vm(s)));
	return 1;
}

static int snap_eq(lua_State *L)
{
	struct wbl_snap *a = luaL_checkudata(L, 1, SNAP_META), *b = luaL_checkudata(L, 2, SNAP_META);
	lua_pushboolean(L, a->id == b->id);
	return 1;
}

static const luaL_Reg snap_vm_methods[] = {
	{ "snapshot", vm_snapshot_m }, { "snapshots", vm_snapshots_m },
	{ "delete_snapshot", vm_delete_snapshot_m }, { "restore", vm_restore_m },
	{ "save", vm_save_m }, { "clone", vm_clone_m }, { NULL, NULL },
};

static const luaL_Reg snap_meta[] = {
	{ "__index", snap_index }, { "__tostring", snap_tostring }, { "__eq", snap_eq }, { NULL, NULL },
};

void wbl_open_snapshot_methods(lua_State *L)
{
	lua_getfield(L, -1, "__methods");
	luaL_setfuncs(L, snap_vm_methods, 0);
	lua_pop(L, 1);
	luaL_newmetatable(L, SNAP_META);
	luaL_setfuncs(L, snap_meta, 0);
	lua_pop(L, 1);
	lua_newtable(L);   /* only to name it in errors */
	lua_pushcfunction(L, snap_delete_m);
	lua_setfield(L, -2, "delete");
	wbl_name_functions(L, -1, "snapshot:");
	lua_pop(L, 1);
}
