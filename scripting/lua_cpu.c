/* lua_cpu: the full register view of a vCPU (vm:cpu: segments with their
 * descriptors, GDTR/IDTR, control, debug and flags registers; its __tostring
 * marks with '*' what changed since the previous stop) and vm:setcpu, which
 * checks every register it is given before it sets any. */
#include <stdarg.h>
#include <inttypes.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/cpustate.h"
#include "engine/core/vm.h"
#include "engine/debug/mmu.h"
#include "util/err.h"
#include "scripting/lua_inspect.h"
#include "scripting/lua_wb.h"

#define SNAP_KEY "hvwb.inspect.snapshots"
#define CPU_META "hvwb.cpuview"

/* ---- the register view ---- */

struct cpu_view {
	struct kvm_regs r;
	struct kvm_sregs s;
	struct kvm_debugregs d;
};

struct cpu_snap {
	bool valid, has_prev;
	uint64_t stop_count;
	struct cpu_view cur, prev;
};

static const char *const gpr_names[] = {
	"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags",
};

static void gprs_of(const struct kvm_regs *r, uint64_t out[18])
{
	const uint64_t v[18] = { r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rsp, r->rbp,
				 r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15,
				 r->rip, r->rflags };
	memcpy(out, v, sizeof(v));
}

static const char *const seg_names[] = { "cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt" };

static const struct kvm_segment *seg_at(const struct kvm_sregs *s, int i)
{
	const struct kvm_segment *v[] = { &s->cs, &s->ds, &s->es, &s->fs, &s->gs, &s->ss, &s->tr, &s->ldt };
	return v[i];
}

static bool seg_equal(const struct kvm_segment *a, const struct kvm_segment *b)
{
	return a->base == b->base && a->limit == b->limit && a->selector == b->selector &&
	       a->type == b->type && a->present == b->present && a->dpl == b->dpl && a->db == b->db &&
	       a->s == b->s && a->l == b->l && a->g == b->g && a->unusable == b->unusable;
}

static void push_segment(lua_State *L, const struct kvm_segment *g)
{
	lua_createtable(L, 0, 11);
	wbl_set_int(L, "selector", g->selector);
	wbl_set_int(L, "base", g->base);
	wbl_set_int(L, "limit", g->limit);
	wbl_set_int(L, "type", g->type);
	wbl_set_int(L, "dpl", g->dpl);
	wbl_set_bool(L, "present", g->present);
	wbl_set_bool(L, "db", g->db);
	wbl_set_bool(L, "s", g->s);
	wbl_set_bool(L, "l", g->l);
	wbl_set_bool(L, "g", g->g);
	wbl_set_bool(L, "unusable", g->unusable);
}

static void push_dtable(lua_State *L, const char *k, const struct kvm_dtable *t)
{
	lua_createtable(L, 0, 2);
	wbl_set_int(L, "base", t->base);
	wbl_set_int(L, "limit", t->limit);
	lua_setfield(L, -2, k);
}

static void rflags_text(uint64_t f, char *buf, size_t cap)
{
	static const struct { int bit; const char *name; } names[] = {
		{ 0, "CF" }, { 2, "PF" }, { 4, "AF" }, { 6, "ZF" }, { 7, "SF" }, { 8, "TF" }, { 9, "IF" },
		{ 10, "DF" }, { 11, "OF" }, { 14, "NT" }, { 16, "RF" }, { 17, "VM" }, { 18, "AC" },
		{ 19, "VIF" }, { 20, "VIP" }, { 21, "ID" },
	};
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && used < cap; i++)
		if (f & (1ull << names[i].bit))
			used += (size_t)snprintf(buf + used, cap - used, "%s%s", used ? " " : "", names[i].name);
	if ((f >> 12) & 3 && used < cap)
		snprintf(buf + used, cap - used, "%sIOPL=%d", used ? " " : "", (int)((f >> 12) & 3));
}

static const char *cpu_mode_text(const struct kvm_sregs *s)
{
	if (!(s->cr0 & 1))
		return "real";
	if (s->efer & (1ull << 10))
		return s->cs.l ? "long 64-bit" : "long compatibility";
	return s->cs.db ? "protected 32-bit" : "protected 16-bit";
}

/* The names whose values differ between two views, set to true in the table on top. */
static void mark_changed(lua_State *L, const struct cpu_view *a, const struct cpu_view *b)
{
	uint64_t ga[18], gb[18];
	gprs_of(&a->r, ga);
	gprs_of(&b->r, gb);
	for (int i = 0; i < 18; i++)
		if (ga[i] != gb[i])
			wbl_set_bool(L, gpr_names[i], true);
	const struct { const char *k; uint64_t x, y; } sr[] = {
		{ "cr0", a->s.cr0, b->s.cr0 }, { "cr2", a->s.cr2, b->s.cr2 }, { "cr3", a->s.cr3, b->s.cr3 },
		{ "cr4", a->s.cr4, b->s.cr4 }, { "cr8", a->s.cr8, b->s.cr8 }, { "efer", a->s.efer, b->s.efer },
		{ "apic_base", a->s.apic_base, b->s.apic_base },
		{ "dr0", a->d.db[0], b->d.db[0] }, { "dr1", a->d.db[1], b->d.db[1] },
		{ "dr2", a->d.db[2], b->d.db[2] }, { "dr3", a->d.db[3], b->d.db[3] },
		{ "dr6", a->d.dr6, b->d.dr6 }, { "dr7", a->d.dr7, b->d.dr7 },
	};
	for (size_t i = 0; i < sizeof(sr) / sizeof(sr[0]); i++)
		if (sr[i].x != sr[i].y)
			wbl_set_bool(L, sr[i].k, true);
	for (int i = 0; i < 8; i++)
		if (!seg_equal(seg_at(&a->s, i), seg_at(&b->s, i)))
			wbl_set_bool(L, seg_names[i], true);
	if (a->s.gdt.base != b->s.gdt.base || a->s.gdt.limit != b->s.gdt.limit)
		wbl_set_bool(L, "gdtr", true);
	if (a->s.idt.base != b->s.idt.base || a->s.idt.limit != b->s.idt.limit)
		wbl_set_bool(L, "idtr", true);
}

/* The snapshot kept for the VM userdata at idx, made on first use. */
static struct cpu_snap *snap_of(lua_State *L, int idx)
{
	idx = lua_absindex(L, idx);
	lua_getfield(L, LUA_REGISTRYINDEX, SNAP_KEY);
	lua_pushvalue(L, idx);
	lua_rawget(L, -2);
	struct cpu_snap *s = lua_touserdata(L, -1);
	if (!s) {
		lua_pop(L, 1);
		s = lua_newuserdatauv(L, sizeof(*s), 0);
		memset(s, 0, sizeof(*s));
		lua_pushvalue(L, idx);
		lua_pushvalue(L, -2);
		lua_rawset(L, -4);
	}
	lua_pop(L, 2);   /* the registry table still references it */
	return s;
}

/* Keeps the view of the latest stop; the one before it is what `changed` compares with. */
static void snap_update(struct cpu_snap *s, const struct cpu_view *now, uint64_t stops)
{
	if (!s->valid) {
		s->valid = true;
		s->cur = *now;
		s->stop_count = stops;
	} else if (stops != s->stop_count) {
		s->prev = s->cur;
		s->has_prev = true;
		s->cur = *now;
		s->stop_count = stops;
	}
}

static void push_cpu_view(lua_State *L, const struct cpu_view *v, uint64_t xcr0, bool has_xcr0)
{
	uint64_t g[18];
	char flags[128];
	gprs_of(&v->r, g);
	lua_createtable(L, 0, 48);
	for (int i = 0; i < 18; i++)
		wbl_set_int(L, gpr_names[i], g[i]);
	rflags_text(v->r.rflags, flags, sizeof(flags));
	wbl_set_str(L, "rflags_names", flags);
	wbl_set_int(L, "cr0", v->s.cr0);
	wbl_set_int(L, "cr2", v->s.cr2);
	wbl_set_int(L, "cr3", v->s.cr3);
	wbl_set_int(L, "cr4", v->s.cr4);
	wbl_set_int(L, "cr8", v->s.cr8);
	wbl_set_int(L, "efer", v->s.efer);
	wbl_set_int(L, "apic_base", v->s.apic_base);
	for (int i = 0; i < 8; i++) {
		push_segment(L, seg_at(&v->s, i));
		lua_setfield(L, -2, seg_names[i]);
	}
	push_dtable(L, "gdtr", &v->s.gdt);
	push_dtable(L, "idtr", &v->s.idt);
	for (int i = 0; i < 4; i++) {
		char k[32];
		snprintf(k, sizeof(k), "dr%d", i);
		wbl_set_int(L, k, v->d.db[i]);
	}
	wbl_set_int(L, "dr6", v->d.dr6);
	wbl_set_int(L, "dr7", v->d.dr7);
	if (has_xcr0)
		wbl_set_int(L, "xcr0", xcr0);
	wbl_set_str(L, "mode", cpu_mode_text(&v->s));
}

/* The register view's text is built in a plain buffer: the cells read
 * fields from the table (argument 1) with the Lua stack, which a
 * luaL_Buffer would be sharing. */
struct text {
	char s[4096];
	size_t n;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(t->s + t->n, sizeof(t->s) - t->n, fmt, ap);
	va_end(ap);
	if (k > 0)
		t->n = t->n + (size_t)k < sizeof(t->s) ? t->n + (size_t)k : sizeof(t->s) - 1;
}

static bool view_changed(lua_State *L, const char *k)
{
	lua_getfield(L, 1, "changed");
	bool changed = lua_istable(L, -1) && lua_getfield(L, -1, k) != LUA_TNIL && lua_toboolean(L, -1);
	lua_settop(L, 1);
	return changed;
}

/* One "name value" cell; '*' marks a register that changed. */
static void view_row(lua_State *L, struct text *t, const char *const *keys)
{
	for (int i = 0; keys[i]; i++) {
		lua_getfield(L, 1, keys[i]);
		uint64_t v = (uint64_t)lua_tointeger(L, -1);
		lua_settop(L, 1);
		text_add(t, "%s%-6s %016" PRIx64 "%c", i ? "  " : "", keys[i], v,
			 view_changed(L, keys[i]) ? '*' : ' ');
	}
	text_add(t, "\n");
}

static lua_Integer seg_int(lua_State *L, const char *k)
{
	lua_getfield(L, 2, k);
	lua_Integer v = lua_tointeger(L, -1);
	lua_pop(L, 1);
	return v;
}

static bool seg_bool(lua_State *L, const char *k)
{
	lua_getfield(L, 2, k);
	bool v = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return v;
}

static void view_segment(lua_State *L, struct text *t, const char *k)
{
	lua_getfield(L, 1, k);
	if (!lua_istable(L, -1)) {
		lua_settop(L, 1);
		return;
	}
	text_add(t, "%-3s %04x base %016" PRIx64 " limit %08x type %x dpl %d%s%s%s%s", k,
		 (unsigned)seg_int(L, "selector"), (uint64_t)seg_int(L, "base"),
		 (unsigned)seg_int(L, "limit"), (unsigned)seg_int(L, "type"), (int)seg_int(L, "dpl"),
		 seg_bool(L, "present") ? " P" : "", seg_bool(L, "db") ? " DB" : "",
		 seg_bool(L, "l") ? " L" : "", seg_bool(L, "g") ? " G" : "");
	lua_settop(L, 1);
	text_add(t, "%s\n", view_changed(L, k) ? "  *" : "");
}

/* print(vm:cpu()): the register view, with '*' on what changed since the previous stop. */
static int cpu_tostring(lua_State *L)
{
	static const char *const rows[][5] = {
		{ "rax", "rbx", "rcx", "rdx", NULL }, { "rsi", "rdi", "rsp", "rbp", NULL },
		{ "r8", "r9", "r10", "r11", NULL }, { "r12", "r13", "r14", "r15", NULL },
		{ "rip", "rflags", NULL }, { "cr0", "cr2", "cr3", "cr4", NULL },
		{ "cr8", "efer", "apic_base", NULL }, { "dr0", "dr1", "dr2", "dr3", NULL }, { "dr6", "dr7", NULL },
	};
	wbl_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	struct text t = { .n = 0 };
	t.s[0] = '\0';
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		view_row(L, &t, rows[i]);
		if (i != 4)
			continue;
		lua_getfield(L, 1, "rflags_names");
		lua_getfield(L, 1, "mode");
		text_add(&t, "flags  [%s]   mode %s\n", wbl_optstring(L, 2, ""), wbl_optstring(L, 3, "?"));
		lua_settop(L, 1);
	}
	for (int i = 0; i < 8; i++)
		view_segment(L, &t, seg_names[i]);
	text_add(&t, "(* changed since the previous stop)");
	lua_pushstring(L, t.s);
	return 1;
}

/* vm:cpu([vcpu]) -> every register, decoded, with changed = { rax = true, ... }
 * naming what differs from the view taken at the previous stop. */
static int vm_cpu(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	int vcpu = wbl_opt_vcpu(L, w, 2);
	struct cpu_view now;
	memset(&now, 0, sizeof(now));
	int r;
	if ((r = vm_get_regs(w->vm, vcpu, &now.r)) < 0 || (r = vm_get_sregs(w->vm, vcpu, &now.s)) < 0)
		return wbl_fail(L, r);
	cpu_get_debugregs(w->vm, vcpu, &now.d);   /* zeros where the host has no DEBUGREGS */
	uint64_t xcr0 = 0;
	bool has_xcr0 = cpu_get_xcr0(w->vm, vcpu, &xcr0) == 0;
	push_cpu_view(L, &now, xcr0, has_xcr0);
	lua_newtable(L);
	if (vcpu == 0) {   /* the stop snapshot follows the vCPU that a stop is reported for */
		struct cpu_snap *s = snap_of(L, 1);
		snap_update(s, &now, vm_stop_count(w->vm));
		if (s->has_prev)
			mark_changed(L, &s->prev, &now);
	}
	lua_setfield(L, -2, "changed");
	luaL_setmetatable(L, CPU_META);
	return 1;
}

void wbl_inspect_note_stop(lua_State *L, int idx)
{
	struct wbl_vm *w = luaL_testudata(L, idx, WBL_VM_META);
	struct cpu_view now;
	memset(&now, 0, sizeof(now));
	if (!w || !w->vm || vm_get_regs(w->vm, 0, &now.r) < 0 || vm_get_sregs(w->vm, 0, &now.s) < 0)
		return;
	cpu_get_debugregs(w->vm, 0, &now.d);
	snap_update(snap_of(L, idx), &now, vm_stop_count(w->vm));
}

/* ---- setting registers, with validation ---- */

/* The integer value of field k in table t, checked against a mask of bits
 * that may be set; false when absent. */
static bool field_u64(lua_State *L, int t, const char *k, __u64 *out)
{
	lua_getfield(L, t, k);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		return false;
	}
	if (!lua_isinteger(L, -1))
		wbl_error(L, "'%s' must be an integer, not %s", k, luaL_typename(L, -1));
	*out = (__u64)lua_tointeger(L, -1);
	lua_pop(L, 1);
	return true;
}

static void check_max(lua_State *L, const char *what, uint64_t v, uint64_t max)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "0x%" PRIx64, max);
	if (v > max)
		wbl_error(L, "%s must be from 0 to %s", what, buf);
}

static const char *hex(char *buf, size_t cap, uint64_t v)
{
	snprintf(buf, cap, "0x%" PRIx64, v);
	return buf;
}

#define SEG_SELECTOR 1   /* merge_segment: a selector was given */
#define SEG_FIELDS 2     /* and descriptor fields (base, limit, ...) */

static int merge_segment(lua_State *L, int t, const char *name, struct kvm_segment *g)
{
	lua_getfield(L, t, name);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		return 0;
	}
	if (!lua_istable(L, -1))
		wbl_error(L, "'%s' must be a table {selector, base, limit, type, dpl, present, db, s, l, g}", name);
	int st = lua_gettop(L), given = 0;
	__u64 v;
	if (field_u64(L, st, "selector", &v)) {
		check_max(L, "selector", v, 0xffff);
		g->selector = (uint16_t)v;
		given |= SEG_SELECTOR;
	}
	lua_pushnil(L);
	while (lua_next(L, st)) {
		lua_pop(L, 1);
		if (lua_type(L, -1) != LUA_TSTRING || strcmp(lua_tostring(L, -1), "selector") != 0)
			given |= SEG_FIELDS;
	}
	if (field_u64(L, st, "base", &v)) g->base = v;
	if (field_u64(L, st, "limit", &v)) { check_max(L, "limit", v, 0xffffffff); g->limit = (uint32_t)v; }
	if (field_u64(L, st, "type", &v)) { check_max(L, "type", v, 15); g->type = (uint8_t)v; }
	if (field_u64(L, st, "dpl", &v)) { check_max(L, "dpl", v, 3); g->dpl = (uint8_t)v; }
	static const char *const bits[] = { "present", "db", "s", "l", "g", "unusable" };
	uint8_t *dst[] = { &g->present, &g->db, &g->s, &g->l, &g->g, &g->unusable };
	for (int i = 0; i < 6; i++) {
		lua_getfield(L, st, bits[i]);
		if (!lua_isnil(L, -1))
			*dst[i] = lua_toboolean(L, -1);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return given;
}

/* A descriptor of the GDT or LDT, decoded into the register's cache. */
static void decode_descriptor(const uint8_t d[8], uint16_t selector, struct kvm_segment *g)
{
	uint32_t limit = d[0] | d[1] << 8 | (uint32_t)(d[6] & 0xf) << 16;
	g->selector = selector;
	g->base = d[2] | d[3] << 8 | (uint32_t)d[4] << 16 | (uint32_t)d[7] << 24;
	g->g = d[6] >> 7;
	g->limit = g->g ? limit << 12 | 0xfff : limit;
	g->type = d[5] & 0xf;
	g->s = (d[5] >> 4) & 1;
	g->dpl = (d[5] >> 5) & 3;
	g->present = d[5] >> 7;
	g->avl = (d[6] >> 4) & 1;
	g->l = (d[6] >> 5) & 1;
	g->db = (d[6] >> 6) & 1;
	g->unusable = 0;
}

/* A selector given to vm:setcpu is checked as the CPU checks a segment load
 * (mov ds, ax / a far jump for cs): in protected mode it must point inside
 * the GDT (or LDT) to a present code or data descriptor that fits the
 * register. Given alone, it loads that descriptor into the register's cache,
 * as the CPU would; fields given with it (base, limit, ...) override it. In
 * real mode a selector alone sets the base to selector * 16. */
static void load_selector(lua_State *L, struct vm *vm, const struct kvm_sregs *s, int i,
			  struct kvm_segment *g, int given)
{
	const char *name = seg_names[i];
	uint16_t sel = g->selector;
	char h[32];
	if (!(s->cr0 & 1)) {
		if (!(given & SEG_FIELDS))
			g->base = (uint64_t)sel << 4;
		return;
	}
	if (i >= 6)   /* tr and ldt: system descriptors, taken as given */
		return;
	bool ldt = sel & 4, longmode = s->efer & (1ull << 10);
	if (!ldt && (sel & ~3) == 0) {
		if (i == 0)
			wbl_error(L, "cs cannot hold the null selector %s", hex(h, sizeof(h), sel));
		if (i == 5 && !longmode)
			wbl_error(L, "ss cannot hold the null selector %s outside 64-bit mode", hex(h, sizeof(h), sel));
		if (!(given & SEG_FIELDS)) {
			memset(g, 0, sizeof(*g));
			g->selector = sel;
			g->unusable = 1;
		}
		return;
	}
	const struct kvm_dtable *tab = &s->gdt;
	struct kvm_dtable ldt_tab = { .base = s->ldt.base, .limit = (uint16_t)s->ldt.limit };
	if (ldt) {
		if (s->ldt.unusable || !s->ldt.present || (s->ldt.selector & ~3) == 0)
			wbl_error(L, "%s selector %s points into the LDT (TI=1), but there is no LDT", name,
				  hex(h, sizeof(h), sel));
		tab = &ldt_tab;
	}
	uint32_t off = sel & ~7u;
	if (off + 7 > tab->limit) {
		char lim[32];
		wbl_error(L, "%s selector %s is outside the %s (limit %s: entries 0 to %d)", name,
			  hex(h, sizeof(h), sel), ldt ? "LDT" : "GDT", hex(lim, sizeof(lim), tab->limit),
			  (int)((tab->limit + 1) / 8) - 1);
	}
	struct mmu_ctx ctx;
	mmu_sregs_ctx(vm, s, &ctx);
	uint8_t d[8];
	if (mmu_read(&ctx, tab->base + off, d, sizeof(d)) < 0)
		wbl_error(L, "cannot read the descriptor of %s selector %s: %s", name, hex(h, sizeof(h), sel),
			  err_msg());
	struct kvm_segment desc;
	decode_descriptor(d, sel, &desc);
	bool code = desc.type & 8, readable_or_writable = desc.type & 2;
	const char *why = NULL;
	if (!desc.s)
		why = "a system descriptor (TSS, LDT or gate), not a code or data segment";
	else if (!desc.present)
		why = "not present (P=0)";
	else if (i == 0 && !code)
		why = "a data segment; cs needs a code segment";
	else if (i == 5 && (code || !readable_or_writable))
		why = code ? "a code segment; ss needs a writable data segment"
			   : "a read-only data segment; ss needs a writable one";
	else if (i != 0 && code && !readable_or_writable)
		why = "an execute-only code segment, which cannot be read through a data register";
	if (why)
		wbl_error(L, "%s selector %s: the descriptor there is %s", name, hex(h, sizeof(h), sel), why);
	if (!(given & SEG_FIELDS)) {
		desc.type |= 1;   /* the CPU marks a descriptor it loads as accessed */
		*g = desc;
	}
}

static void merge_dtable(lua_State *L, int t, const char *name, struct kvm_dtable *d)
{
	lua_getfield(L, t, name);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		return;
	}
	if (!lua_istable(L, -1))
		wbl_error(L, "'%s' must be a table {base, limit}", name);
	__u64 v;
	if (field_u64(L, -1, "base", &v)) d->base = v;
	if (field_u64(L, -1, "limit", &v)) { check_max(L, "limit", v, 0xffff); d->limit = (uint16_t)v; }
	lua_pop(L, 1);
}

/* Reads the keys of table 2 into the views, refusing unknown keys. */
static void merge_cpu(lua_State *L, struct cpu_view *v, bool *regs, bool *sregs, bool *dregs, int given[8])
{
	__u64 *gdst[18] = { &v->r.rax, &v->r.rbx, &v->r.rcx, &v->r.rdx, &v->r.rsi, &v->r.rdi,
			       &v->r.rsp, &v->r.rbp, &v->r.r8, &v->r.r9, &v->r.r10, &v->r.r11,
			       &v->r.r12, &v->r.r13, &v->r.r14, &v->r.r15, &v->r.rip, &v->r.rflags };
	for (int i = 0; i < 18; i++)
		*regs |= field_u64(L, 2, gpr_names[i], gdst[i]);
	const struct { const char *k; __u64 *p; bool *touched; } scalars[] = {
		{ "cr0", &v->s.cr0, sregs }, { "cr2", &v->s.cr2, sregs }, { "cr3", &v->s.cr3, sregs },
		{ "cr4", &v->s.cr4, sregs }, { "cr8", &v->s.cr8, sregs }, { "efer", &v->s.efer, sregs },
		{ "apic_base", &v->s.apic_base, sregs },
		{ "dr0", &v->d.db[0], dregs }, { "dr1", &v->d.db[1], dregs }, { "dr2", &v->d.db[2], dregs },
		{ "dr3", &v->d.db[3], dregs }, { "dr6", &v->d.dr6, dregs }, { "dr7", &v->d.dr7, dregs },
	};
	for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++)
		*scalars[i].touched |= field_u64(L, 2, scalars[i].k, scalars[i].p);
	for (int i = 0; i < 8; i++) {
		struct kvm_segment *segs[] = { &v->s.cs, &v->s.ds, &v->s.es, &v->s.fs, &v->s.gs,
					       &v->s.ss, &v->s.tr, &v->s.ldt };
		lua_getfield(L, 2, seg_names[i]);
		*sregs |= !lua_isnil(L, -1);
		lua_pop(L, 1);
		given[i] = merge_segment(L, 2, seg_names[i], segs[i]);
	}
	lua_getfield(L, 2, "gdtr");
	lua_getfield(L, 2, "idtr");
	*sregs |= !lua_isnil(L, -1) || !lua_isnil(L, -2);
	lua_pop(L, 2);
	merge_dtable(L, 2, "gdtr", &v->s.gdt);
	merge_dtable(L, 2, "idtr", &v->s.idt);
}

static void check_known_keys(lua_State *L)
{
	static const char *const others[] = { "cr0", "cr2", "cr3", "cr4", "cr8", "efer", "apic_base",
		"dr0", "dr1", "dr2", "dr3", "dr6", "dr7", "gdtr", "idtr", NULL };
	lua_pushnil(L);
	while (lua_next(L, 2)) {
		lua_pop(L, 1);
		const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
		bool known = false;
		for (int i = 0; i < 18 && !known; i++)
			known = strcmp(k, gpr_names[i]) == 0;
		for (int i = 0; i < 8 && !known; i++)
			known = strcmp(k, seg_names[i]) == 0;
		for (int i = 0; others[i] && !known; i++)
			known = strcmp(k, others[i]) == 0;
		if (!known)
			wbl_error(L, "no register '%s' (allowed: rax..r15, rip, rflags, cr0-cr8, "
				   "efer, apic_base, dr0-dr3, dr6, dr7, cs..ldt, gdtr, idtr)", k);
	}
}

/* vm:setcpu{ rax = 1, rflags = 0x202, cs = { selector = 8 }, dr7 = 0x1, ... }[, vcpu]:
 * everything is checked before anything is set. */
static int vm_setcpu(lua_State *L)
{
	struct wbl_vm *w = wbl_checkvm(L, 1);
	wbl_checktype(L, 2, LUA_TTABLE);
	int vcpu = wbl_opt_vcpu(L, w, 3);
	check_known_keys(L);
	struct cpu_view v;
	memset(&v, 0, sizeof(v));
	int r;
	if ((r = vm_get_regs(w->vm, vcpu, &v.r)) < 0 || (r = vm_get_sregs(w->vm, vcpu, &v.s)) < 0)
		return wbl_fail(L, r);
	bool has_dregs = cpu_get_debugregs(w->vm, vcpu, &v.d) == 0;
	bool regs = false, sregs = false, dregs = false;
	int given[8];
	merge_cpu(L, &v, &regs, &sregs, &dregs, given);
	struct kvm_segment *segs[] = { &v.s.cs, &v.s.ds, &v.s.es, &v.s.fs, &v.s.gs, &v.s.ss };
	for (int i = 0; i < 6; i++)
		if (given[i] & SEG_SELECTOR)
			load_selector(L, w->vm, &v.s, i, segs[i], given[i]);
	/* the engine's checks (vm_check_regs, vm_check_sregs), all before anything is set */
	if (vm_check_sregs(&v.s) < 0 || vm_check_regs(&v.r, &v.s) < 0)
		return wbl_error(L, "%s", err_msg());
	if ((v.d.dr6 >> 32) || (v.d.dr7 >> 32))
		return wbl_error(L, "DR6 and DR7 are 32-bit registers: bits 63..32 must be 0");
	if (dregs && !has_dregs)
		return wbl_error(L, "this host cannot set debug registers (no KVM_CAP_DEBUGREGS)");
	if (((regs || sregs) && (r = vm_set_cpu(w->vm, vcpu, &v.r, &v.s)) < 0) ||
	    (dregs && (r = cpu_set_debugregs(w->vm, vcpu, &v.d)) < 0))
		return wbl_fail(L, r);
	lua_pushboolean(L, 1);
	return 1;
}

static const luaL_Reg cpu_methods[] = {
	{ "cpu", vm_cpu }, { "setcpu", vm_setcpu },
	{ NULL, NULL },
};

void wbl_open_cpu_methods(lua_State *L)
{
	luaL_setfuncs(L, cpu_methods, 0);
	lua_newtable(L);   /* VM userdata -> struct cpu_snap, forgotten with the VM */
	lua_newtable(L);
	lua_pushstring(L, "k");
	lua_setfield(L, -2, "__mode");
	lua_setmetatable(L, -2);
	lua_setfield(L, LUA_REGISTRYINDEX, SNAP_KEY);
	if (luaL_newmetatable(L, CPU_META)) {
		lua_pushcfunction(L, cpu_tostring);
		lua_setfield(L, -2, "__tostring");
	}
	lua_pop(L, 1);
}
