/* gdbstub: serves one gdb connection for a VM over TCP, on the calling
 * (main) thread: gdb reads and writes registers and memory, steps, sets
 * breakpoints and watchpoints, continues and interrupts. The call blocks
 * until gdb detaches, kills or goes away, and leaves the VM paused (or in
 * whatever final state the guest reached). Packet framing is gdbproto.h. */
#ifndef HVWB_GDBSTUB_H
#define HVWB_GDBSTUB_H

#include <stdint.h>

struct vm;

enum gdb_end { GDB_END_DETACH, GDB_END_KILL, GDB_END_DISCONNECT };

struct gdb_options {
	const char *addr;       /* listen address; NULL: 127.0.0.1 */
	int port;               /* 0: any free port (reported to on_listen) */
	/* Called once the socket listens, with the port really bound (may be NULL). */
	void (*on_listen)(void *arg, const char *addr, int port);
	void *arg;
};

/* Listens, accepts one connection, serves it. 0 with *end set, or -errno
 * (bad address, port in use, -EINTR if interrupted before gdb connected). */
int gdb_serve(struct vm *vm, const struct gdb_options *opt, enum gdb_end *end);
const char *gdb_end_name(enum gdb_end e);

#endif
