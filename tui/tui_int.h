/* tui_int: the structures the dashboard's files share and no one else sees:
 * the collected samples of every VM (plain numbers, filled by collect*.c and
 * only read by the panels), the selected VM's details, the text scrollbacks,
 * the screen layout and the roles that colours and attributes are chosen by. */
#ifndef HVWB_TUI_INT_H
#define HVWB_TUI_INT_H

#include <curses.h>
#include <lua.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/debug/disasm.h"
#include "engine/core/stats.h"
#include "engine/core/vm.h"

#define TUI_HIST 60          /* seconds of history behind each sparkline */
#define TUI_DISASM 48        /* instructions disassembled around RIP */
#define TUI_KSTATS 160       /* KVM binary statistics kept for the selected VM */
#define TUI_MEM_BYTES 1024   /* bytes of the hexdump read each tick */

/* ---- roles: every attribute drawn comes from the table in screen.c ---- */
enum tui_role {
	R_NORMAL, R_BAR, R_TITLE, R_TITLE_FOCUS, R_HEADER, R_SELECTED, R_CHANGED,
	R_RUNNING, R_STOPPED, R_CRASHED, R_BREAK, R_RIP, R_DIM, R_SPARK, R_ERROR,
	R_COUNT
};
attr_t tui_attr(enum tui_role r);

/* ---- text kept as lines: the console's output and the serial consoles ---- */
struct tui_lines {
	char **ring;          /* cap complete lines, oldest at first */
	int cap, count, first;
	char cur[1024];       /* the line being written */
	size_t curlen;
	bool esc;             /* inside an escape sequence (skipped) */
};
void tui_lines_init(struct tui_lines *l, int cap);
void tui_lines_free(struct tui_lines *l);
/* Appends bytes: splits lines, expands tabs, drops other control codes. */
void tui_lines_feed(struct tui_lines *l, const char *p, size_t n);
/* Lines so far, the unfinished one included; 0 is the oldest. */
int tui_lines_count(const struct tui_lines *l);
const char *tui_lines_get(const struct tui_lines *l, int i);

/* ---- samples ---- */
struct tui_regs {
	bool valid, has_prev;           /* prev: the previous stop's registers */
	struct kvm_regs r, rprev;
	struct kvm_sregs s, sprev;
	uint64_t stop_count;            /* the stop r/s were taken at */
};

struct tui_vm {
	struct vm *vm;                  /* valid during the tick that saw it */
	uint64_t created_ns;            /* with vm, tells a new VM at an old address */
	bool seen;
	char name[64];
	char accel[8];                  /* "kvm" or "soft" */
	enum vm_state state;
	int nvcpus;
	char stop[600];                 /* the last stop: "kind: reason" */
	uint64_t stop_count;
	uint64_t mem_size, resident, dirty;
	bool has_dirty;
	uint64_t mem_at_ns;             /* when resident/dirty were read */
	uint64_t sample_ns;
	uint64_t exits_total;
	bool has_insns;                 /* the accelerator counts instructions (soft) */
	uint64_t insns;
	double insn_rate;
	double exit_rate, cpu_pct;
	uint64_t *guest_ns;             /* per vCPU, at sample_ns */
	double *vcpu_pct;
	uint64_t exits[STATS_EXIT_REASONS];
	double rate[STATS_EXIT_REASONS];
	/* per-second exit counts, the newest at hist_pos */
	uint32_t hist[STATS_EXIT_REASONS][TUI_HIST];
	int hist_pos;
	uint64_t sec_ns, sec_exits[STATS_EXIT_REASONS];
	struct tui_lines serial;
	uint64_t serial_seen;
	struct tui_regs regs;
	uint64_t mem_addr;              /* the hexdump's address (guest-physical) */
	bool mem_addr_set;
	int disasm_cursor;              /* selected line of the disassembly */
	int cpu;                        /* the vCPU the CPU panel shows (v cycles) */
};

/* What is read for the selected VM only, when a panel shows it. */
struct tui_kstat { char name[48]; uint64_t value; };
struct tui_detail {
	struct addr_count ports[16], mmio[16];
	size_t nports, nmmio;
	struct tui_kstat kstats[TUI_KSTATS];
	int nkstats;
	struct disasm_insn insn[TUI_DISASM];
	bool bp[TUI_DISASM];            /* a breakpoint at insn[i] */
	char sym[TUI_DISASM][48];       /* "kmain+0x10" for insn[i], or "" */
	int ninsn, rip_index;
	char cpu_msg[160];              /* why no registers or code are shown */
	uint8_t mem[TUI_MEM_BYTES];
	size_t memlen;
	char mem_msg[160];
};

/* ---- panels and layout ---- */
enum tui_panel { P_VMS, P_STATS, P_CPU, P_MEM, P_SERIAL, P_CONSOLE, P_COUNT };
struct tui_rect { int y, x, h, w; };

enum tui_sort { S_NAME, S_STATE, S_CPU, S_EXITS, S_MEM, S_COUNT };

struct tui {
	lua_State *L;
	struct tui_vm **vms;            /* in display (sorted) order */
	int nvms, cap;
	int sel, vms_top;               /* selected row, first row shown */
	enum tui_sort sort;
	bool sort_rev;
	enum tui_panel focus, detail;   /* detail: the view shown when one fits */
	struct tui_rect rect[P_COUNT];
	bool shown[P_COUNT];
	struct tui_detail d;
	struct tui_lines console;
	int scroll[P_COUNT];            /* lines scrolled back, per panel */
	int rate_hz;
	bool help, quit, busy, color, utf8;
	char msg[200];                  /* shown in the top bar until msg_until */
	bool msg_error;
	uint64_t msg_until;
	/* the one-line prompt in the top bar (an address, a yes/no question) */
	bool prompting, pyesno;         /* pyesno: one key answers */
	char plabel[96], pbuf[128];
	size_t plen;
	void (*pdone)(struct tui *t, const char *answer);
};
extern struct tui tui_g;

/* tui.c */
void tui_message(struct tui *t, bool error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
struct tui_vm *tui_selected(struct tui *t);
/* The selected VM if it still exists (Lua may have destroyed it since the
 * last tick), else NULL. Actions use this; drawing never touches a VM. */
struct tui_vm *tui_selected_alive(struct tui *t);
/* While Lua runs: reads keys, and collects and draws when a tick is due. */
void tui_busy_tick(struct tui *t);
/* Collects and draws now (also from inside engine waits). */
void tui_refresh_now(struct tui *t);

/* screen.c: curses, colours, signals */
int tui_screen_open(struct tui *t, int tty_fd);
void tui_screen_close(void);
void tui_signals_install(void);
/* Set by SIGTERM/SIGHUP: leave as if the user had quit. */
extern volatile sig_atomic_t tui_term_requested;
void tui_signals_restore(void);

/* layout.c */
void tui_layout(struct tui *t);

/* collect.c, collect_detail.c */
void tui_collect(struct tui *t);
void tui_collect_free(struct tui *t);
void tui_collect_detail(struct tui *t);
void tui_collect_stats_detail(struct tui *t, const struct vm_stats *st);
/* Orders the list by t->sort, keeping `keep` (may be stale) selected. */
void tui_sort(struct tui *t, const struct tui_vm *keep);

/* draw.c: helpers every panel uses */
void tui_draw(struct tui *t);
void tui_put(const struct tui_rect *r, int row, int col, attr_t a, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void tui_title(struct tui *t, enum tui_panel p, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The rect of panel p below its title line. */
struct tui_rect tui_body(const struct tui *t, enum tui_panel p);
void tui_fmt_size(char *buf, size_t cap, uint64_t bytes);
void tui_fmt_rate(char *buf, size_t cap, double per_s);
void tui_sparkline(const struct tui_rect *r, int row, int col, int width, const uint32_t *hist, int pos);
/* Draws the last lines of l (scrolled back by `back`), wrapping long ones. */
void tui_draw_lines(const struct tui_rect *r, const struct tui_lines *l, int back);
enum tui_role tui_state_role(enum vm_state s);

/* panel_*.c */
void tui_panel_vms(struct tui *t);
void tui_panel_stats(struct tui *t);
void tui_panel_cpu(struct tui *t);
void tui_panel_mem(struct tui *t);
void tui_panel_serial(struct tui *t);
void tui_panel_console(struct tui *t);
void tui_help_draw(struct tui *t);

/* keys.c, actions.c, prompt.c */
/* Handles one key; false if it was not for the dashboard. */
void tui_key(struct tui *t, int ch);
void tui_action_run(struct tui *t);
void tui_action_step(struct tui *t);
void tui_action_pause(struct tui *t);
void tui_action_breakpoint(struct tui *t);
void tui_action_quit(struct tui *t);
void tui_action_goto(struct tui *t);
void tui_prompt(struct tui *t, const char *label, void (*done)(struct tui *, const char *));
void tui_prompt_key(struct tui *t, int ch);

/* help.c: the key table's text, for the help screen */
struct tui_keydef {
	int key;                   /* curses key code or character; 0 ends the table */
	const char *name;          /* as the help screen shows it */
	unsigned where;            /* panels (1 << P_*) where the key works, 0 = everywhere */
	void (*fn)(struct tui *t);
	const char *help;
	bool acts;                 /* changes a VM: refused while a Lua chunk runs */
};
extern const struct tui_keydef tui_keys[];
/* Keys that are not in the table because their panel reads text. */
extern const char *const tui_text_keys[][2];

/* console_pane.c: readline inside the pane; output.c: stdout/stderr capture */
int tui_console_open(struct tui *t);
void tui_console_close(struct tui *t);
void tui_console_key(struct tui *t, int ch);
/* Ctrl-C at the prompt: forgets the line. */
void tui_console_cancel(struct tui *t);
/* The input line as readline has it, and the cursor in it. */
const char *tui_console_prompt(void);
const char *tui_console_line(int *point);
bool tui_console_line_empty(void);
/* Puts the terminal's cursor where readline's point is. */
void tui_console_place_cursor(struct tui *t);

/* Captures fds 1 and 2; returns an fd of the real terminal (for curses) or -1. */
int tui_output_open(void);
void tui_output_close(void);
/* An fd that polls readable when captured output waits to be drained. */
int tui_output_fd(void);
/* Moves captured output into the console's lines; true if there was some. */
bool tui_output_drain(struct tui_lines *to);
/* Points fds 1 and 2 back at the terminal (async-signal-safe: crash handler). */
void tui_output_restore_fds(void);

/* lua_tui.c */
void tui_lua_open(struct tui *t);
void tui_lua_close(struct tui *t);

#endif
