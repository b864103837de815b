/* lua_dev: devices and event handlers written in Lua. A guest's access to a
 * Lua device arrives on a vCPU thread; the Lua state belongs to the main
 * thread, so the access is handed over with hostcall_call and the vCPU waits
 * for the answer. Event handlers (vm:on) run when the main thread next looks:
 * after a run, while it sleeps, and in the console's idle loop. */
#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus.h"
#include "devices/uart16550.h"
#include "util/err.h"
#include "engine/core/hostcall.h"
#include "engine/core/vm.h"
#include "scripting/lua_wb.h"

struct luadev {
	struct device dev;
	lua_State *L;             /* the main thread's state */
	int read_ref, write_ref;  /* LUA_NOREF when absent */
	int save_ref, restore_ref;
	bool pio;                 /* its range, for clones */
	uint64_t base, len;
	const struct device_host *host;
	char name[64];
};

struct luadev_access {
	struct luadev *d;
	uint64_t addr;
	uint8_t *data;
	unsigned len;
	bool is_write;
};

static int traceback(lua_State *L)
{
	luaL_traceback(L, L, lua_tostring(L, 1), 1);
	return 1;
}

static void access_fail(struct luadev_access *a, const char *msg)
{
	char reason[256];
	snprintf(reason, sizeof(reason), "Lua device '%s' %s handler failed: %s", a->d->name,
		 a->is_write ? "write" : "read", msg);
	a->d->host->request_crash(a->d->host->opaque, reason);
}

/* Runs on the main thread: calls read(addr, size) or write(addr, size, value). */
static void luadev_serve(void *arg)
{
	struct luadev_access *a = arg;
	lua_State *L = a->d->L;
	int ref = a->is_write ? a->d->write_ref : a->d->read_ref;
	if (!a->is_write)
		memset(a->data, 0xff, a->len);
	if (ref == LUA_NOREF)
		return;
	int top = lua_gettop(L);
	lua_pushcfunction(L, traceback);
	lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
	lua_pushinteger(L, (lua_Integer)a->addr);
	lua_pushinteger(L, a->len);
	uint64_t v = 0;
	if (a->is_write) {
		memcpy(&v, a->data, a->len);
		lua_pushinteger(L, (lua_Integer)v);
	}
	wbl_in_callback = true;
	wbl_pause_asked = false;
	int r = lua_pcall(L, a->is_write ? 3 : 2, 1, top + 1);
	wbl_in_callback = false;
	if (r != LUA_OK && wbl_pause_asked) {
		/* vm:pause() ended the handler: the access completes, the VM pauses. */
	} else if (r != LUA_OK) {
		access_fail(a, lua_tostring(L, -1));
	} else if (!a->is_write && !lua_isnil(L, -1)) {
		int isnum;
		v = (uint64_t)lua_tointegerx(L, -1, &isnum);
		if (isnum)
			memcpy(a->data, &v, a->len);
		else
			access_fail(a, "read must return an integer or nil");
	}
	lua_settop(L, top);
}

static void luadev_io(void *opaque, uint64_t addr, void *data, unsigned len, bool is_write)
{
	struct luadev_access a = { opaque, addr, data, len, is_write };
	hostcall_call(luadev_serve, &a);
}

static void luadev_destroy(struct device *dev)
{
	struct luadev *d = (struct luadev *)dev;
	luaL_unref(d->L, LUA_REGISTRYINDEX, d->read_ref);
	luaL_unref(d->L, LUA_REGISTRYINDEX, d->write_ref);
	luaL_unref(d->L, LUA_REGISTRYINDEX, d->save_ref);
	luaL_unref(d->L, LUA_REGISTRYINDEX, d->restore_ref);
	free(d);
}

/* Snapshots call these on the main thread, from inside a Lua call: the hooks
 * run as callbacks, so they cannot wait for a VM. */
static int luadev_call(struct luadev *d, int ref, const char *arg, size_t len, int nres, const char *what)
{
	lua_State *L = d->L;
	lua_pushcfunction(L, traceback);
	lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
	if (arg)
		lua_pushlstring(L, arg, len);
	bool was = wbl_in_callback;
	wbl_in_callback = true;
	int r = lua_pcall(L, arg ? 1 : 0, nres, -2 - (arg ? 1 : 0));
	wbl_in_callback = was;
	if (r != LUA_OK) {
		err_set(-EINVAL, "Lua device '%s' %s hook failed: %s", d->name, what, lua_tostring(L, -1));
		lua_pop(L, 2);
		return -EINVAL;
	}
	return 0;
}

static int luadev_save(struct device *dev, void **buf, size_t *len)
{
	struct luadev *d = (struct luadev *)dev;
	*buf = NULL;
	*len = 0;
	int r = luadev_call(d, d->save_ref, NULL, 0, 1, "save");
	if (r < 0)
		return r;
	lua_State *L = d->L;
	if (lua_type(L, -1) != LUA_TSTRING) {
		lua_pop(L, 2);
		return err_set(-EINVAL, "Lua device '%s' save hook must return a string", d->name);
	}
	size_t n;
	const char *s = lua_tolstring(L, -1, &n);
	*buf = malloc(n ? n : 1);
	if (*buf) {
		memcpy(*buf, s, n);
		*len = n;
	}
	lua_pop(L, 2);
	return *buf ? 0 : err_set(-ENOMEM, "out of memory");
}

static int luadev_restore(struct device *dev, const void *buf, size_t len)
{
	struct luadev *d = (struct luadev *)dev;
	int r = luadev_call(d, d->restore_ref, buf, len, 0, "restore");
	if (r == 0)
		lua_pop(d->L, 1);
	return r;
}

static int ref_copy(lua_State *L, int ref)
{
	if (ref == LUA_NOREF)
		return LUA_NOREF;
	lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
	return luaL_ref(L, LUA_REGISTRYINDEX);
}

static void luadev_hooks(struct luadev *d);

/* A clone's copy calls the same Lua functions: a script that wants separate
 * state per VM keys it by the address the functions see or keeps it in the
 * save/restore string. */
static int luadev_clone(struct device *dev, struct bus *bus, const struct device_host *host)
{
	struct luadev *d = (struct luadev *)dev, *c = calloc(1, sizeof(*c));
	if (!c)
		return err_set(-ENOMEM, "out of memory");
	*c = *d;
	c->dev.name = c->name;
	c->host = host;
	c->read_ref = c->write_ref = c->save_ref = c->restore_ref = LUA_NOREF;
	int r = bus_register(bus, c->pio ? BUS_PIO : BUS_MMIO, c->base, c->len, luadev_io, c, c->name);
	if (r < 0) {
		free(c);
		return r;
	}
	c->read_ref = ref_copy(d->L, d->read_ref);
	c->write_ref = ref_copy(d->L, d->write_ref);
	c->save_ref = ref_copy(d->L, d->save_ref);
	c->restore_ref = ref_copy(d->L, d->restore_ref);
	luadev_hooks(c);
	bus_add_device(bus, &c->dev);
	return 0;
}

static void luadev_hooks(struct luadev *d)
{
	d->dev.destroy = luadev_destroy;
	d->dev.clone = luadev_clone;
	d->dev.save = d->save_ref != LUA_NOREF ? luadev_save : NULL;
	d->dev.restore = d->restore_ref != LUA_NOREF ? luadev_restore : NULL;
}

/* Raises unless field is absent or a function: checked before anything is
 * allocated or registered, so a bad argument leaves nothing behind. */
static void check_function_field(lua_State *L, int t, const char *field)
{
	int type = lua_getfield(L, t, field);
	lua_pop(L, 1);
	if (type != LUA_TNIL && type != LUA_TFUNCTION)
		wbl_argerror(L, 2, lua_pushfstring(L, "%s must be a function", field));
}

static int function_ref(lua_State *L, int t, const char *field)
{
	if (lua_getfield(L, t, field) == LUA_TNIL) {
		lua_pop(L, 1);
		return LUA_NOREF;
	}
	return luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Reads {base, len} from field `field`; false if the field is absent. */
static bool opt_range(lua_State *L, int t, const char *field, uint64_t *base, uint64_t *len)
{
	lua_getfield(L, t, field);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		return false;
	}
	if (!lua_istable(L, -1))
		wbl_argerror(L, 2, lua_pushfstring(L, "%s must be {base, length}", field));
	lua_rawgeti(L, -1, 1);
	lua_rawgeti(L, -2, 2);
	if (!lua_isinteger(L, -2) || !lua_isinteger(L, -1) || lua_tointeger(L, -1) <= 0)
		wbl_argerror(L, 2, lua_pushfstring(L, "%s must be {base, length} with length > 0", field));
	*base = (uint64_t)lua_tointeger(L, -2);
	*len = (uint64_t)lua_tointeger(L, -1);
	lua_pop(L, 3);
	return true;
}

/* Ranges a Lua device can never see: the interrupt controllers and timers of
 * both accelerators (KVM's in-kernel irqchip, soft's irqchip.c) take these
 * accesses before the bus, and guest RAM is memory, not MMIO. */
static const struct { uint64_t base, len; const char *owner; } taken_ports[] = {
	{ 0x20, 2, "the master PIC (8259)" }, { 0xa0, 2, "the slave PIC (8259)" },
	{ 0x4d0, 2, "the PICs' ELCR" }, { 0x40, 4, "the PIT (8254)" },
	{ 0x61, 1, "the PIT's port B (speaker gate)" },
}, taken_mmio[] = {
	{ 0xfee00000, 0x1000, "the local APIC" }, { 0xfec00000, 0x100, "the IOAPIC" },
};

static bool overlaps(uint64_t base, uint64_t len, uint64_t b2, uint64_t l2)
{
	return base < b2 + l2 && b2 < base + len;
}

#define FOUR_GIB 0x100000000ull

/* Raises if the guest's accesses to [base, base+len) would never reach a device. */
static void check_reachable(lua_State *L, struct vm *vm, bool pio, uint64_t base, uint64_t len)
{
	const char *kind = pio ? "ports" : "mmio";
	if (pio) {
		for (size_t i = 0; i < sizeof(taken_ports) / sizeof(taken_ports[0]); i++)
			if (overlaps(base, len, taken_ports[i].base, taken_ports[i].len))
				wbl_argerror(L, 2, lua_pushfstring(L, "ports %s..%s belong to %s, which the "
					"accelerator emulates itself: the guest's accesses never reach a device",
					wbl_pushhex(L, taken_ports[i].base),
					wbl_pushhex(L, taken_ports[i].base + taken_ports[i].len - 1),
					taken_ports[i].owner));
		return;
	}
	uint64_t low = vm_ram(vm).size, mem = vm_mem_size(vm);
	if (overlaps(base, len, 0, low) || (mem > low && overlaps(base, len, FOUR_GIB, mem - low)))
		wbl_argerror(L, 2, lua_pushfstring(L, "%s = {%s, %s} overlaps guest RAM (%s..%s%s): the "
			"guest's accesses there read and write memory and never reach a device; "
			"put it above RAM, e.g. at 0xfe000000", kind, wbl_pushhex(L, base),
			wbl_pushhex(L, len), wbl_pushhex(L, 0), wbl_pushhex(L, low - 1),
			mem > low ? lua_pushfstring(L, " and %s..%s", wbl_pushhex(L, FOUR_GIB),
						    wbl_pushhex(L, FOUR_GIB + mem - low - 1)) : ""));
	for (size_t i = 0; i < sizeof(taken_mmio) / sizeof(taken_mmio[0]); i++)
		if (overlaps(base, len, taken_mmio[i].base, taken_mmio[i].len))
			wbl_argerror(L, 2, lua_pushfstring(L, "mmio %s..%s belongs to %s, which the "
				"accelerator emulates itself: the guest's accesses never reach a device",
				wbl_pushhex(L, taken_mmio[i].base),
				wbl_pushhex(L, taken_mmio[i].base + taken_mmio[i].len - 1), taken_mmio[i].owner));
}

/* vm:device{ ports = {base, len} | mmio = {base, len}, read = fn, write = fn, name =,
 *            save = fn() -> string, restore = fn(string) } */
static int vm_device_m(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	wbl_checktype(L, 2, LUA_TTABLE);
	uint64_t base, len;
	bool pio = opt_range(L, 2, "ports", &base, &len);
	uint64_t mbase, mlen;
	bool mmio = opt_range(L, 2, "mmio", &mbase, &mlen);
	if (pio == mmio)
		return wbl_argerror(L, 2, "give exactly one of ports = {base, len} or mmio = {base, len}");
	if (mmio) {
		base = mbase;
		len = mlen;
	}
	check_reachable(L, w->vm, pio, base, len);
	check_function_field(L, 2, "read");
	check_function_field(L, 2, "write");
	check_function_field(L, 2, "save");
	check_function_field(L, 2, "restore");
	lua_getfield(L, 2, "name");
	if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
		return wbl_argerror(L, 2, "name must be a string");
	const char *name = lua_isnil(L, -1) ? "lua" : lua_tostring(L, -1);
	struct luadev *d = calloc(1, sizeof(*d));
	if (!d)
		return wbl_error(L, "out of memory");
	snprintf(d->name, sizeof(d->name), "%s", name);
	lua_pop(L, 1);
	d->dev.name = d->name;
	d->dev.destroy = luadev_destroy;
	lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
	d->L = lua_tothread(L, -1);
	lua_pop(L, 1);
	d->host = vm_device_host(w->vm);
	d->read_ref = LUA_NOREF;
	d->write_ref = LUA_NOREF;
	d->save_ref = LUA_NOREF;
	d->restore_ref = LUA_NOREF;
	d->pio = pio;
	d->base = base;
	d->len = len;
	struct bus *bus = vm_bus(w->vm);
	int r = bus_register(bus, pio ? BUS_PIO : BUS_MMIO, base, len, luadev_io, d, d->name);
	if (r < 0) {
		free(d);
		return wbl_error(L, "%s", err_msg());
	}
	d->read_ref = function_ref(L, 2, "read");
	d->write_ref = function_ref(L, 2, "write");
	d->save_ref = function_ref(L, 2, "save");
	d->restore_ref = function_ref(L, 2, "restore");
	luadev_hooks(d);
	bus_add_device(bus, &d->dev);
	lua_settop(L, 1);
	return 1;
}

/* vm:on(event, fn): "stop" -> fn(vm, stop), "serial" -> fn(vm, new_bytes). */
static int vm_on_m(lua_State *L)
{
	static const char *const events[] = { "stop", "serial", NULL };
	wbl_checkvm(L, 1);
	int ev = wbl_checkoption(L, 2, NULL, events);
	wbl_checktype(L, 3, LUA_TFUNCTION);
	if (lua_getiuservalue(L, 1, 1) != LUA_TTABLE) {
		lua_pop(L, 1);
		lua_newtable(L);
		lua_pushvalue(L, -1);
		lua_setiuservalue(L, 1, 1);
	}
	if (lua_getfield(L, -1, events[ev]) != LUA_TTABLE) {
		lua_pop(L, 1);
		lua_newtable(L);
		lua_pushvalue(L, -1);
		lua_setfield(L, -3, events[ev]);
	}
	lua_pushvalue(L, 3);
	lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
	lua_settop(L, 1);
	return 1;
}

/* Calls every handler in the list at the stack top with (vm at vmidx, value at validx). */
static void call_handlers(lua_State *L, const char *event, int vmidx, int validx)
{
	lua_Integer n = luaL_len(L, -1);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_pushcfunction(L, traceback);
		lua_rawgeti(L, -2, i);
		lua_pushvalue(L, vmidx);
		lua_pushvalue(L, validx);
		if (lua_pcall(L, 2, 0, -4) != LUA_OK) {
			fprintf(stderr, "hvwb: error in vm:on('%s') handler: %s\n", event, lua_tostring(L, -1));
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
	}
}

static void dispatch_stop(lua_State *L, struct wbl_vm *w, int vmidx)
{
	uint64_t n = vm_stop_count(w->vm);
	if (n == w->seen_stops)
		return;
	w->seen_stops = n;
	if (lua_getfield(L, -1, "stop") == LUA_TTABLE) {
		struct vm_stop s;
		vm_last_stop(w->vm, &s);
		wbl_pushstop(L, &s);
		lua_insert(L, -2);
		call_handlers(L, "stop", vmidx, lua_gettop(L) - 1);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

static void dispatch_serial(lua_State *L, struct wbl_vm *w, int vmidx)
{
	uint64_t total = vm_serial_total(w->vm);
	if (total == w->seen_serial)
		return;
	uint64_t fresh = total - w->seen_serial;
	w->seen_serial = total;
	if (lua_getfield(L, -1, "serial") == LUA_TTABLE) {
		static char buf[UART_RING_SIZE];
		size_t n = vm_serial_output(w->vm, buf, sizeof(buf));
		size_t take = fresh < n ? (size_t)fresh : n;
		lua_pushlstring(L, buf + n - take, take);
		lua_insert(L, -2);
		call_handlers(L, "serial", vmidx, lua_gettop(L) - 1);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

void wbl_dispatch_events(lua_State *L)
{
	static bool dispatching;
	if (dispatching || wbl_in_callback)
		return;
	dispatching = true;
	int top = lua_gettop(L);
	lua_getfield(L, LUA_REGISTRYINDEX, "hvwb.vms");
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		struct wbl_vm *w = lua_touserdata(L, -1);
		int vmidx = lua_gettop(L);
		if (w && w->vm && lua_getiuservalue(L, vmidx, 1) == LUA_TTABLE) {
			dispatch_stop(L, w, vmidx);
			if (w->vm)
				dispatch_serial(L, w, vmidx);
		}
		lua_settop(L, vmidx - 1);
	}
	lua_settop(L, top);
	dispatching = false;
}

/* vm:irq(gsi, level): drives an interrupt line of the VM's interrupt
 * controllers as a device model does (1 or true raises, 0 or false lowers; an
 * edge is irq(n, 1) then irq(n, 0)). GSI 0-15 reach the PIC and IOAPIC, 16-23
 * the IOAPIC only. For script devices that interrupt their guest. */
static int vm_irq_m(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	lua_Integer gsi = wbl_checkinteger(L, 2);
	wbl_argcheck(L, gsi >= 0 && gsi < 24, 2, "the GSI must be from 0 to 23");
	int level;
	if (lua_isboolean(L, 3))
		level = lua_toboolean(L, 3);
	else {
		lua_Integer n = wbl_checkinteger(L, 3);
		wbl_argcheck(L, n == 0 || n == 1, 3, "the level must be 0, 1, false or true");
		level = (int)n;
	}
	const struct device_host *h = vm_device_host(w->vm);
	h->set_irq(h->opaque, (unsigned)gsi, level);
	return 0;
}

static const luaL_Reg dev_methods[] = {
	{ "device", vm_device_m }, { "on", vm_on_m }, { "irq", vm_irq_m }, { NULL, NULL },
};

void wbl_open_device_methods(lua_State *L)
{
	lua_getfield(L, -1, "__methods");
	luaL_setfuncs(L, dev_methods, 0);
	lua_pop(L, 1);
}
