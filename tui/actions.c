/* actions: what the keys do to VMs, each through the same engine calls the
 * Lua methods make (vm_start/vm_resume, vm_pause, vm_step, debug_add and
 * debug_delete), with the engine's message shown when one refuses. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/debug/debug.h"
#include "util/err.h"
#include "engine/debug/mmu.h"
#include "tui/tui_int.h"

static struct tui_vm *target(struct tui *t)
{
	struct tui_vm *v = tui_selected_alive(t);
	if (!v)
		tui_message(t, true, "no VM: make one in the console, e.g. vm = wb.vm{}");
	return v;
}

static void report(struct tui *t, int r, const char *done)
{
	if (r < 0)
		tui_message(t, true, "%s", err_msg());
	else if (done)
		tui_message(t, false, "%s", done);
	tui_refresh_now(t);
}

/* F5: start a created VM, resume a paused or halted one. */
void tui_action_run(struct tui *t)
{
	struct tui_vm *v = target(t);
	if (!v)
		return;
	enum vm_state s = vm_state(v->vm);
	if (s == VM_RUNNING) {
		tui_message(t, false, "%s is already running", v->name);
		return;
	}
	report(t, s == VM_CREATED ? vm_start(v->vm) : vm_resume(v->vm), NULL);
}

/* Space: pause a running VM, else as F5. */
void tui_action_pause(struct tui *t)
{
	struct tui_vm *v = target(t);
	if (!v)
		return;
	if (vm_state(v->vm) == VM_RUNNING)
		report(t, vm_pause(v->vm), NULL);
	else
		tui_action_run(t);
}

/* F10: one instruction of the vCPU the CPU panel shows, the others staying
 * stopped (a running VM is paused first). */
void tui_action_step(struct tui *t)
{
	struct tui_vm *v = target(t);
	if (!v)
		return;
	if (vm_state(v->vm) == VM_RUNNING)
		vm_pause(v->vm);
	struct vm_stop s;
	struct step_opts one = { .vcpu = v->cpu < v->nvcpus ? v->cpu : 0, .interrupts = false, .timeout_ms = -1 };
	int r = vm_step_with(v->vm, 1, &one, &s);
	if (r == 0 && s.kind != STOP_STEP)
		tui_message(t, false, "%s: %s", vm_stop_kind_name(s.kind), s.reason);
	report(t, r, NULL);
}

/* F9: a breakpoint on the disassembly line under the cursor, or none. A
 * debug register when one is free, else an int3, as vm:next does. */
void tui_action_breakpoint(struct tui *t)
{
	struct tui_vm *v = target(t);
	if (!v)
		return;
	if (!t->shown[P_CPU] || !t->d.ninsn) {
		tui_message(t, true, "F9 works on a line of code: pause the VM and show the CPU panel");
		return;
	}
	uint64_t addr = t->d.insn[v->disasm_cursor].addr;
	struct debug_point pts[DEBUG_MAX_BREAKPOINTS];
	int n = debug_list(v->vm, pts, DEBUG_MAX_BREAKPOINTS);
	for (int i = 0; i < n; i++) {
		if (pts[i].addr == addr && (pts[i].kind == DBG_HW_EXEC || pts[i].kind == DBG_SW_EXEC)) {
			if (debug_delete(v->vm, pts[i].id) < 0)
				tui_message(t, true, "%s", err_msg());
			else
				tui_message(t, false, "breakpoint %d at 0x%llx deleted", pts[i].id, (unsigned long long)addr);
			tui_refresh_now(t);
			return;
		}
	}
	int id = debug_add(v->vm, DBG_HW_EXEC, addr, 1, false);
	if (id < 0)
		id = debug_add(v->vm, DBG_SW_EXEC, addr, 1, false);
	if (id < 0)
		tui_message(t, true, "%s", err_msg());
	else
		tui_message(t, false, "breakpoint %d at 0x%llx", id, (unsigned long long)addr);
	tui_refresh_now(t);
}

static void quit_answer(struct tui *t, const char *answer)
{
	if (answer[0] == 'y' || answer[0] == 'Y')
		t->quit = true;
}

/* q, F12, Ctrl-D: quit, asking first while VMs run. */
void tui_action_quit(struct tui *t)
{
	int running = 0;
	for (int i = 0; i < t->nvms; i++)
		running += vm_state(t->vms[i]->vm) == VM_RUNNING;
	if (!running) {
		t->quit = true;
		return;
	}
	char q[96];
	snprintf(q, sizeof(q), "%d VM%s running. Quit and destroy them? (y/n)", running, running == 1 ? " is" : "s are");
	tui_prompt(t, q, quit_answer);
	t->pyesno = true;
}

/* A number (0x.. hex, or decimal) or a symbol; symbols are linear addresses,
 * turned physical through the guest's page tables when the VM is stopped. */
static int parse_address(struct tui_vm *v, const char *text, uint64_t *out)
{
	char *end;
	uint64_t a = strtoull(text, &end, 0);
	if (end != text && !*end) {
		*out = a;
		return 0;
	}
	if (sym_resolve(vm_symbols(v->vm), text, &a) < 0)
		return err_set(-ENOENT, "no symbol or number '%s'", text);
	struct mmu_walk w;
	if (vm_state(v->vm) != VM_RUNNING && mmu_translate(v->vm, 0, a, &w) == 0 && w.mode != MMU_NONE)
		a = w.pa;
	*out = a;
	return 0;
}

static void goto_answer(struct tui *t, const char *answer)
{
	struct tui_vm *v = tui_selected_alive(t);
	uint64_t a;
	if (!v || !answer[0])
		return;
	if (parse_address(v, answer, &a) < 0) {
		tui_message(t, true, "%s", err_msg());
		return;
	}
	v->mem_addr = a & ~0xfull;
	v->mem_addr_set = true;
	t->focus = P_MEM;
	tui_refresh_now(t);
}

/* g: the hexdump's address. */
void tui_action_goto(struct tui *t)
{
	if (target(t))
		tui_prompt(t, "Hexdump at (address or symbol):", goto_answer);
}
