/* gdbstub: a gdb remote-protocol server for one VM, run on the main thread
 * because every engine call must be made there (waits serve Lua host calls).
 * One connection at a time: the session reads packets (gdbproto.c), answers
 * them from the stopped VM, and while the guest runs polls the socket for
 * gdb's 0x03 interrupt and the engine for the stop. Registers follow the
 * target description of gdbregs.c (x86-64 or i386 general, x87 and SSE
 * registers, chosen by the vCPU's mode when gdb connects), and every write
 * passes its checks before it reaches the engine; malformed packets (bad
 * lengths, unknown actions or types, bad addresses) get E replies, never a
 * guess. Addresses are linear and go through
 * the guest's page tables (mmu.h). gdb's software breakpoints (Z0) become
 * hardware ones while a debug register is free, because ring-0 int3 does not
 * trap on hosts without VT-x (HOST-KVM.md). */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/debug/debug.h"
#include "util/err.h"
#include "engine/debug/gdbproto.h"
#include "engine/debug/gdbregs.h"
#include "engine/debug/gdbstub.h"
#include "engine/core/hostcall.h"
#include "engine/debug/mmu.h"
#include "engine/core/vm.h"

/* ---- the session ---- */

struct gdb_bp {
	char type;              /* '0'..'4' as in Z0..Z4 */
	uint64_t addr, len;
	int id;                 /* debug_add's id */
};

struct session {
	struct vm *vm;
	int fd;
	bool noack, done;
	enum gdb_end end;
	int gvcpu;              /* Hg: the vCPU g/G/p/P/m/M address */
	int cvcpu;              /* Hc: the vCPU s, S and a resume address act on */
	struct gdb_layout lay;
	struct gdb_parser parser;
	struct gdb_bp bps[DEBUG_MAX_BREAKPOINTS];
	int nbps;
	uint8_t in[4096];
	size_t in_pos, in_len;
	char reply[GDB_MAX_PAYLOAD + 1];
	size_t rlen;
	char frame[GDB_MAX_FRAME + 1];
	int frame_len;          /* the last reply sent, kept for a '-' */
};

static void put(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(s->reply + s->rlen, sizeof(s->reply) - s->rlen, fmt, ap);
	va_end(ap);
	if (n > 0)
		s->rlen += (size_t)n < sizeof(s->reply) - s->rlen ? (size_t)n : sizeof(s->reply) - 1 - s->rlen;
}

static void put_error(struct session *s, int code)
{
	s->rlen = 0;
	put(s, "E%02x", (code < 0 ? -code : code) & 0xff);
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return err_set(-EPIPE, "gdb connection lost while sending");
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Sends s->reply as a packet, preceded by the ack of the packet it answers. */
static int send_reply(struct session *s)
{
	char *f = s->frame;
	int n = gdb_frame(s->reply, s->rlen, f + 1, sizeof(s->frame) - 1);
	if (n < 0)
		return err_set(n, "gdb reply too long");
	s->frame_len = n;
	s->rlen = 0;
	if (s->noack)
		return write_all(s->fd, f + 1, (size_t)n);
	f[0] = '+';
	return write_all(s->fd, f, (size_t)n + 1);
}

/* ---- stop replies ---- */

static struct gdb_bp *bp_by_id(struct session *s, int id)
{
	for (int i = 0; i < s->nbps; i++)
		if (s->bps[i].id == id)
			return &s->bps[i];
	return NULL;
}

static void put_reg(struct session *s, int n, const struct gdb_cpu *c)
{
	uint8_t b[GDB_REG_MAX];
	char hex[2 * GDB_REG_MAX + 1];
	int size = gdb_reg_get(&s->lay, n, c, b);
	gdb_hex_encode(b, (size_t)size, hex);
	put(s, "%02x:%s;", n, hex);
}

static void stop_reply(struct session *s, const struct vm_stop *st)
{
	s->rlen = 0;
	switch (st->kind) {
	case STOP_EXIT:
		put(s, "W%02x", (unsigned)(st->exit_code & 0xff));
		return;
	case STOP_CRASH:
		put(s, "X0b"); /* SIGSEGV: the guest is beyond repair */
		return;
	default:
		break;
	}
	bool sigint = st->kind == STOP_PAUSE || st->kind == STOP_INTERRUPT || st->kind == STOP_TIMEOUT;
	int vcpu = st->vcpu >= 0 && st->vcpu < vm_vcpu_count(s->vm) ? st->vcpu : 0;
	put(s, "T%02xthread:%x;", sigint ? 2 : 5, vcpu + 1);
	struct gdb_bp *bp = st->kind == STOP_BREAKPOINT || st->kind == STOP_WATCH ?
			    bp_by_id(s, st->breakpoint) : NULL;
	if (bp && bp->type == '0')
		put(s, "swbreak:;");
	else if (bp && bp->type == '1')
		put(s, "hwbreak:;");
	else if (bp && bp->type == '2')
		put(s, "watch:%llx;", (unsigned long long)bp->addr);
	else if (bp && bp->type == '4')
		put(s, "awatch:%llx;", (unsigned long long)bp->addr);
	struct gdb_cpu c;
	if (gdb_cpu_read(s->vm, vcpu, &c) == 0) {
		put_reg(s, s->lay.fp_reg, &c);
		put_reg(s, s->lay.sp_reg, &c);
		put_reg(s, s->lay.pc_reg, &c);
	}
}

static void state_reply(struct session *s)
{
	struct vm_stop st;
	vm_last_stop(s->vm, &st);
	if (st.kind == STOP_NONE)
		st.kind = STOP_STEP; /* never ran: a plain SIGTRAP stop */
	stop_reply(s, &st);
}

/* ---- input ---- */

/* The next byte from gdb: >= 0, -EAGAIN if none came within timeout_ms,
 * -EPIPE when the connection is gone. */
static int next_byte(struct session *s, int timeout_ms)
{
	if (s->in_pos < s->in_len)
		return s->in[s->in_pos++];
	struct pollfd pf = { .fd = s->fd, .events = POLLIN };
	int r = poll(&pf, 1, timeout_ms);
	if (r < 0 && errno == EINTR)
		return vm_sleep_ms(0) == -EINTR ? -EINTR : -EAGAIN;
	if (r == 0)
		return -EAGAIN;
	ssize_t n = r < 0 ? -1 : read(s->fd, s->in, sizeof(s->in));
	if (n < 0 && errno == EINTR)
		return -EAGAIN;
	if (n <= 0)
		return -EPIPE;
	s->in_pos = 1;
	s->in_len = (size_t)n;
	return s->in[0];
}

/* ---- running the guest ---- */

/* While the guest runs only an interrupt matters; packets are dropped. */
static void drain_while_running(struct session *s)
{
	int c;
	while ((c = next_byte(s, 0)) >= 0 || c == -EINTR) {
		if (c == -EINTR || gdb_parser_feed(&s->parser, (uint8_t)c) == GDB_EV_INTERRUPT)
			vm_pause(s->vm);
	}
	if (c == -EPIPE) {
		vm_pause(s->vm);
		s->done = true;
		s->end = GDB_END_DISCONNECT;
	}
}

static int resume(struct session *s, struct vm_stop *st)
{
	int r = vm_start(s->vm);
	if (r < 0)
		return r;
	while (vm_state(s->vm) == VM_RUNNING) {
		struct pollfd pf[2] = { { .fd = s->fd, .events = POLLIN },
					{ .fd = hostcall_fd(), .events = POLLIN } };
		poll(pf, 2, 5);
		if (vm_sleep_ms(0) == -EINTR) /* Ctrl-C in hvwb's own terminal; serves host calls */
			vm_pause(s->vm);
		if (pf[0].revents)
			drain_while_running(s);
	}
	return vm_wait(s->vm, -1, st);
}

/* Points vCPU `vcpu` at addr for c/s/C/S ADDR, after the checks any RIP write passes. */
static int set_pc(struct session *s, int vcpu, uint64_t addr)
{
	struct gdb_cpu c;
	int r = gdb_cpu_read(s->vm, vcpu, &c);
	if (r < 0)
		return r;
	c.r.rip = addr;
	return gdb_cpu_write(s->vm, vcpu, &c);
}

/* Steps `vcpu` alone (the others stay stopped) or lets every vCPU run. */
static void do_resume(struct session *s, bool step, int vcpu)
{
	struct vm_stop st;
	struct step_opts one = { .vcpu = vcpu, .interrupts = false, .timeout_ms = -1 };
	int r = step ? vm_step_with(s->vm, 1, &one, &st) : resume(s, &st);
	if (r < 0)
		put_error(s, r);
	else
		stop_reply(s, &st);
}

/* c[ADDR], s[ADDR], Csig[;ADDR], Ssig[;ADDR]: the address applies to the
 * vCPU Hc chose (vCPU 0 unless it chose one), the one that steps. Anything
 * else after the command letter is an error. */
static void cmd_resume(struct session *s, const char *args, bool with_signal, bool step)
{
	uint64_t addr, sig;
	int r = 0;
	if (with_signal) {
		r = gdb_parse_hex(&args, &sig) < 0 || sig > 0xff ? -EINVAL : 0;
		if (r == 0 && *args == ';')
			args++;
		else if (r == 0 && *args)
			r = -EINVAL;
		else if (r == 0)
			args = NULL;
	}
	if (r == 0 && args && *args) {
		if (gdb_parse_hex(&args, &addr) < 0 || *args)
			r = err_set(-EINVAL, "bad resume address");
		else
			r = set_pc(s, s->cvcpu, addr);
	} else if (r == 0 && args && with_signal) {
		r = -EINVAL; /* "Csig;" without an address */
	}
	if (r < 0) {
		put_error(s, r);
		return;
	}
	do_resume(s, step, s->cvcpu);
}

/* A thread id after ':' in vCont: -1 (all), or 1..vCPUs. Sets *vcpu (-1: all). */
static int parse_thread(struct session *s, const char **p, int *vcpu)
{
	uint64_t t;
	if (strncmp(*p, "-1", 2) == 0) {
		*p += 2;
		*vcpu = -1;
		return 0;
	}
	if (gdb_parse_hex(p, &t) < 0 || t < 1 || t > (uint64_t)vm_vcpu_count(s->vm))
		return -ESRCH;
	*vcpu = (int)t - 1;
	return 0;
}

/* vCont;ACTION[:tid][;ACTION...] with actions c, C sig, s, S sig. All-stop:
 * a continue runs every vCPU; a step steps the vCPU it names (or vCPU 0 when
 * it names none) while the others stay stopped. t, r and unknown actions,
 * unknown threads and trailing junk are errors. */
static void cmd_vcont(struct session *s, const char *p)
{
	int step_vcpu = -2, nactions = 0;
	while (*p == ';') {
		char a = p[1];
		uint64_t sig;
		int vcpu = -1;
		p += 2;
		if (a == 'C' || a == 'S') {
			if (gdb_parse_hex(&p, &sig) < 0 || sig > 0xff)
				goto bad;
		} else if (a != 'c' && a != 's') {
			goto bad;
		}
		if (*p == ':' && (p++, parse_thread(s, &p, &vcpu) < 0))
			goto bad;
		if (*p && *p != ';')
			goto bad;
		if ((a == 's' || a == 'S') && step_vcpu == -2)
			step_vcpu = vcpu < 0 ? 0 : vcpu;
		nactions++;
	}
	if (*p || nactions == 0)
		goto bad;
	do_resume(s, step_vcpu != -2, step_vcpu < 0 ? 0 : step_vcpu);
	return;
bad:
	put_error(s, EINVAL);
}

/* ---- registers and memory ---- */

static void cmd_read_regs(struct session *s)
{
	struct gdb_cpu c;
	int r = gdb_cpu_read(s->vm, s->gvcpu, &c);
	if (r < 0) {
		put_error(s, r);
		return;
	}
	for (int i = 0; i < s->lay.nregs; i++) {
		uint8_t b[GDB_REG_MAX];
		int size = gdb_reg_get(&s->lay, i, &c, b);
		gdb_hex_encode(b, (size_t)size, s->reply + s->rlen);
		s->rlen += 2 * (size_t)size;
	}
}

/* G: exactly the block g returns; every register is set and checked before
 * anything is written. */
static void cmd_write_regs(struct session *s, const char *hex, size_t len)
{
	struct gdb_cpu c;
	uint8_t b[1024];
	int r = 0;
	if (s->lay.g_size > sizeof(b) || len != 2 * s->lay.g_size ||
	    gdb_hex_decode(hex, len, b, sizeof(b)) != (int)s->lay.g_size)
		r = err_set(-EINVAL, "G needs the %zu bytes of the register block", s->lay.g_size);
	if (r == 0)
		r = gdb_cpu_read(s->vm, s->gvcpu, &c);
	size_t off = 0;
	for (int i = 0; r == 0 && i < s->lay.nregs; i++) {
		uint8_t now[GDB_REG_MAX];
		int size = gdb_reg_get(&s->lay, i, &c, now);
		/* unchanged registers are left alone: a read-only one (a segment
		 * selector outside real mode) does not fail a G that echoes g */
		if (memcmp(now, b + off, (size_t)size) != 0)
			r = gdb_reg_set(&s->lay, i, &c, b + off);
		off += (size_t)size;
	}
	if (r == 0)
		r = gdb_cpu_write(s->vm, s->gvcpu, &c);
	if (r < 0)
		put_error(s, r);
	else
		put(s, "OK");
}

static void cmd_read_reg(struct session *s, const char *p)
{
	uint64_t n;
	struct gdb_cpu c;
	if (gdb_parse_hex(&p, &n) < 0 || *p || n >= (uint64_t)s->lay.nregs) {
		put_error(s, EINVAL);
		return;
	}
	int r = gdb_cpu_read(s->vm, s->gvcpu, &c);
	if (r < 0) {
		put_error(s, r);
		return;
	}
	uint8_t b[GDB_REG_MAX];
	int size = gdb_reg_get(&s->lay, (int)n, &c, b);
	gdb_hex_encode(b, (size_t)size, s->reply);
	s->rlen = 2 * (size_t)size;
}

static void cmd_write_reg(struct session *s, const char *p)
{
	uint64_t n;
	struct gdb_cpu c;
	uint8_t b[GDB_REG_MAX];
	if (gdb_parse_hex(&p, &n) < 0 || n >= (uint64_t)s->lay.nregs || *p++ != '=' ||
	    gdb_hex_decode(p, strlen(p), b, sizeof(b)) != gdb_reg_size(&s->lay, (int)n)) {
		put_error(s, EINVAL);
		return;
	}
	int r = gdb_cpu_read(s->vm, s->gvcpu, &c);
	if (r == 0)
		r = gdb_reg_set(&s->lay, (int)n, &c, b);
	if (r == 0)
		r = gdb_cpu_write(s->vm, s->gvcpu, &c);
	if (r < 0)
		put_error(s, r);
	else
		put(s, "OK");
}

/* "ADDR,LEN" then `sep`; leaves *p after the separator. */
static int parse_addr_len(const char **p, char sep, uint64_t *addr, uint64_t *len)
{
	if (gdb_parse_hex(p, addr) < 0 || *(*p)++ != ',' || gdb_parse_hex(p, len) < 0)
		return -EINVAL;
	if (sep && *(*p)++ != sep)
		return -EINVAL;
	return 0;
}

static void cmd_read_mem(struct session *s, const char *p)
{
	uint64_t addr, len;
	static uint8_t buf[GDB_MAX_PAYLOAD / 2];
	if (parse_addr_len(&p, 0, &addr, &len) < 0) {
		put_error(s, EINVAL);
		return;
	}
	if (len > sizeof(buf))
		len = sizeof(buf); /* gdb accepts a short read and asks again; nothing is allocated */
	if (*p) {
		put_error(s, EINVAL);
		return;
	}
	int r = mmu_read_virt(s->vm, s->gvcpu, addr, buf, len);
	if (r < 0) {
		put_error(s, r);
		return;
	}
	gdb_hex_encode(buf, len, s->reply);
	s->rlen = 2 * len;
}

/* M (hex) and X (binary) writes. */
static void cmd_write_mem(struct session *s, const char *p, size_t plen, bool binary)
{
	const char *start = p;
	uint64_t addr, len;
	static uint8_t buf[GDB_MAX_PAYLOAD];
	int r = parse_addr_len(&p, ':', &addr, &len);
	/* the length is checked against what the packet can carry before it
	 * is used for anything (2 * len would wrap for huge ones) */
	if (r == 0 && len > sizeof(buf))
		r = err_set(-EINVAL, "write of %" PRIu64 " bytes: at most %zu fit in a packet", len, sizeof(buf));
	size_t dlen = r == 0 ? plen - (size_t)(p - start) : 0;
	if (r == 0 && binary && dlen != len)
		r = -EINVAL;
	if (r == 0 && binary)
		memcpy(buf, p, dlen);
	if (r == 0 && !binary && (dlen != 2 * len || gdb_hex_decode(p, dlen, buf, sizeof(buf)) < 0))
		r = -EINVAL;
	if (r == 0 && len)
		r = mmu_write_virt(s->vm, s->gvcpu, addr, buf, len);
	if (r < 0)
		put_error(s, r);
	else
		put(s, "OK");
}

/* ---- breakpoints ---- */

static struct gdb_bp *bp_find(struct session *s, char type, uint64_t addr, uint64_t len)
{
	for (int i = 0; i < s->nbps; i++)
		if (s->bps[i].type == type && s->bps[i].addr == addr && s->bps[i].len == len)
			return &s->bps[i];
	return NULL;
}

static int bp_insert(struct session *s, char type, uint64_t addr, uint64_t len)
{
	int id;
	if (bp_find(s, type, addr, len))
		return 0;
	if (s->nbps == DEBUG_MAX_BREAKPOINTS)
		return err_set(-ENOSPC, "too many breakpoints");
	switch (type) {
	case '0':
		id = debug_add(s->vm, DBG_HW_EXEC, addr, 1, false);
		if (id == -ENOSPC)
			id = debug_add(s->vm, DBG_SW_EXEC, addr, 1, false);
		break;
	case '1': id = debug_add(s->vm, DBG_HW_EXEC, addr, 1, false); break;
	case '2': id = debug_add(s->vm, DBG_WATCH_WRITE, addr, (unsigned)len, false); break;
	case '4': id = debug_add(s->vm, DBG_WATCH_RW, addr, (unsigned)len, false); break;
	default: return -ENOSYS;
	}
	if (id < 0)
		return id;
	s->bps[s->nbps++] = (struct gdb_bp){ type, addr, len, id };
	return 0;
}

static int bp_remove(struct session *s, char type, uint64_t addr, uint64_t len)
{
	struct gdb_bp *bp = bp_find(s, type, addr, len);
	if (!bp)
		return 0; /* gdb removes what it never managed to insert too */
	int r = debug_delete(s->vm, bp->id);
	*bp = s->bps[--s->nbps];
	return r;
}

static void cmd_breakpoint(struct session *s, const char *p, bool insert)
{
	char type = *p;
	uint64_t addr, len;
	/* Z0..Z4 exist (Z3, read watchpoints, gets the empty "unsupported"
	 * reply); any other type is an error */
	if (type < '0' || type > '4' || p[1] != ',' || (p += 2, parse_addr_len(&p, 0, &addr, &len) < 0) ||
	    (*p && *p != ';')) {
		put_error(s, EINVAL);
		return;
	}
	int r = insert ? bp_insert(s, type, addr, len) : bp_remove(s, type, addr, len);
	if (r == -ENOSYS)
		return; /* empty reply: this kind is not supported */
	if (r < 0)
		put_error(s, r);
	else
		put(s, "OK");
}

static void bp_clear_all(struct session *s)
{
	while (s->nbps)
		debug_delete(s->vm, s->bps[--s->nbps].id);
}

/* ---- queries ---- */

static void cmd_xfer(struct session *s, const char *p)
{
	static const char prefix[] = "qXfer:features:read:target.xml:";
	uint64_t off, len;
	if (strncmp(p, prefix, sizeof(prefix) - 1) != 0) {
		put(s, strncmp(p, "qXfer:features:read:", 20) == 0 ? "E00" : "");
		return;
	}
	p += sizeof(prefix) - 1;
	if (parse_addr_len(&p, 0, &off, &len) < 0) {
		put_error(s, EINVAL);
		return;
	}
	if (off >= s->lay.xml_len) {
		put(s, "l");
		return;
	}
	if (len > GDB_MAX_PAYLOAD - 1)
		len = GDB_MAX_PAYLOAD - 1;
	size_t n = s->lay.xml_len - off < len ? s->lay.xml_len - off : len;
	s->reply[0] = off + n < s->lay.xml_len ? 'm' : 'l';
	memcpy(s->reply + 1, s->lay.xml + off, n);
	s->rlen = n + 1;
}

static bool thread_ok(struct session *s, const char *p, int *vcpu)
{
	uint64_t t;
	if (strcmp(p, "-1") == 0 || strcmp(p, "0") == 0)
		return true; /* any/all: keep the current one */
	if (gdb_parse_hex(&p, &t) < 0 || t < 1 || t > (uint64_t)vm_vcpu_count(s->vm))
		return false;
	if (vcpu)
		*vcpu = (int)t - 1;
	return true;
}

static void cmd_query(struct session *s, const char *p)
{
	if (strncmp(p, "qSupported", 10) == 0)
		put(s, "PacketSize=%x;qXfer:features:read+;QStartNoAckMode+;swbreak+;hwbreak+;"
		    "vContSupported+", GDB_MAX_PAYLOAD);
	else if (strncmp(p, "qXfer:", 6) == 0)
		cmd_xfer(s, p);
	else if (strcmp(p, "qAttached") == 0 || strncmp(p, "qAttached:", 10) == 0)
		put(s, "1");
	else if (strcmp(p, "qC") == 0)
		put(s, "QC%x", s->gvcpu + 1);
	else if (strcmp(p, "qfThreadInfo") == 0) {
		put(s, "m1");
		for (int i = 2; i <= vm_vcpu_count(s->vm); i++)
			put(s, ",%x", i);
	} else if (strcmp(p, "qsThreadInfo") == 0)
		put(s, "l");
	else if (strcmp(p, "QStartNoAckMode") == 0)
		put(s, "OK");
}

/* ---- dispatch ---- */

static void end_session(struct session *s, enum gdb_end end)
{
	s->done = true;
	s->end = end;
}

static void dispatch(struct session *s, const char *p, size_t len)
{
	s->rlen = 0;
	switch (p[0]) {
	case '?': state_reply(s); break;
	case 'g': cmd_read_regs(s); break;
	case 'G': cmd_write_regs(s, p + 1, len - 1); break;
	case 'p': cmd_read_reg(s, p + 1); break;
	case 'P': cmd_write_reg(s, p + 1); break;
	case 'm': cmd_read_mem(s, p + 1); break;
	case 'M': cmd_write_mem(s, p + 1, len - 1, false); break;
	case 'X': cmd_write_mem(s, p + 1, len - 1, true); break;
	case 'c': case 'C': cmd_resume(s, p + 1, p[0] == 'C', false); break;
	case 's': case 'S': cmd_resume(s, p + 1, p[0] == 'S', true); break;
	case 'Z': cmd_breakpoint(s, p + 1, true); break;
	case 'z': cmd_breakpoint(s, p + 1, false); break;
	case 'q': case 'Q': cmd_query(s, p); break;
	case 'H':
		if (thread_ok(s, p + 2, p[1] == 'g' ? &s->gvcpu : p[1] == 'c' ? &s->cvcpu : NULL))
			put(s, "OK");
		else
			put_error(s, EINVAL);
		break;
	case 'T': thread_ok(s, p + 1, NULL) ? put(s, "OK") : put_error(s, ESRCH); break;
	case 'D': put(s, "OK"); end_session(s, GDB_END_DETACH); break;
	case 'k': end_session(s, GDB_END_KILL); return; /* gdb expects no reply */
	case 'v':
		if (strcmp(p, "vCont?") == 0)
			put(s, "vCont;c;C;s;S");
		else if (strncmp(p, "vCont;", 6) == 0)
			cmd_vcont(s, p + 5);
		else if (strncmp(p, "vKill", 5) == 0) {
			put(s, "OK");
			end_session(s, GDB_END_KILL);
		}
		break;
	default: break; /* unknown: the empty reply */
	}
	if (send_reply(s) < 0 && !s->done)
		end_session(s, GDB_END_DISCONNECT);
	if (strcmp(p, "QStartNoAckMode") == 0)
		s->noack = true; /* after the OK, which still carries an ack */
}

static void on_event(struct session *s, enum gdb_event ev)
{
	static const char nak = '-';
	switch (ev) {
	case GDB_EV_PACKET:
		dispatch(s, s->parser.buf, s->parser.len);
		break;
	case GDB_EV_BAD_CHECKSUM:
		if (!s->noack) {
			write_all(s->fd, &nak, 1);
			break;
		}
		/* without acks the error has to be a reply */
		__attribute__((fallthrough));
	case GDB_EV_OVERSIZED:
		put_error(s, 1);
		send_reply(s);
		break;
	case GDB_EV_NAK:
		if (s->frame_len > 0)
			write_all(s->fd, s->frame + 1, (size_t)s->frame_len);
		break;
	default:
		break; /* acks; an interrupt while already stopped */
	}
}

static void session_run(struct session *s)
{
	while (!s->done) {
		int c = next_byte(s, -1);
		if (c == -EPIPE || c == -EINTR)
			end_session(s, GDB_END_DISCONNECT);
		else if (c >= 0)
			on_event(s, gdb_parser_feed(&s->parser, (uint8_t)c));
	}
	bp_clear_all(s);
}

/* ---- the socket ---- */

static int listen_on(const struct gdb_options *opt, int *port_out)
{
	const char *addr = opt->addr && *opt->addr ? opt->addr : "127.0.0.1";
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)opt->port) };
	if (strcmp(addr, "localhost") == 0)
		addr = "127.0.0.1";
	if (opt->port < 0 || opt->port > 65535)
		return err_set(-EINVAL, "port %d is not between 0 and 65535", opt->port);
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return err_set(-EINVAL, "'%s' is not an IPv4 address", addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0)
		return err_set(-errno, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	socklen_t sl = sizeof(sa);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		int e = errno;
		close(fd);
		return err_set(-e, "cannot listen on %s:%d: %s", addr, opt->port, strerror(e));
	}
	*port_out = ntohs(sa.sin_port);
	if (opt->on_listen)
		opt->on_listen(opt->arg, addr, *port_out);
	return fd;
}

/* Waits for gdb, serving host calls and noticing Ctrl-C meanwhile. */
static int accept_one(int lfd)
{
	for (;;) {
		struct pollfd pf = { .fd = lfd, .events = POLLIN };
		if (poll(&pf, 1, 100) > 0) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				return fd;
			if (errno != EINTR && errno != ECONNABORTED)
				return err_set(-errno, "accept: %s", strerror(errno));
		}
		if (vm_sleep_ms(0) == -EINTR)
			return err_set(-EINTR, "interrupted while waiting for gdb to connect");
	}
}

int gdb_serve(struct vm *vm, const struct gdb_options *opt, enum gdb_end *end)
{
	int port, lfd = listen_on(opt, &port);
	if (lfd < 0)
		return lfd;
	int fd = accept_one(lfd);
	close(lfd);
	if (fd < 0)
		return fd;
	int one = 1;
	struct timeval tv = { .tv_sec = 10 };
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)); /* a reader that stops reading */
	struct session *s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return err_set(-ENOMEM, "out of memory");
	}
	s->vm = vm;
	s->fd = fd;
	gdb_parser_init(&s->parser);
	vm_pause(vm); /* gdb expects a stopped target */
	struct kvm_sregs sr;
	gdb_layout_init(&s->lay, vm_get_sregs(vm, 0, &sr) == 0 && (sr.efer & (1u << 10))); /* EFER.LMA */
	session_run(s);
	*end = s->end;
	close(fd);
	free(s);
	return 0;
}

const char *gdb_end_name(enum gdb_end e)
{
	switch (e) {
	case GDB_END_DETACH: return "detach";
	case GDB_END_KILL: return "kill";
	default: return "disconnect";
	}
}
