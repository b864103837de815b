/* fuzz_gdbstub: whole gdb sessions against the stub, over real TCP on
 * loopback, with a soft VM behind it. The input is the byte stream a client
 * sends (packets or not); the client then closes its side, which the stub
 * must take as a disconnect, even in the middle of a continue. Each input
 * gets a fresh two-vCPU VM whose vCPU 0 runs a small real-mode loop making
 * port exits, so reads, writes, steps, breakpoints, watchpoints, vCont and
 * continues all reach a live guest. Nothing the client sends may crash,
 * leak or hang the stub, or leave the VM running. */
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/debug/gdbstub.h"
#include "fuzz/fuzz_vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 1: inc %ax; out %al, $0x80; jmp 1b (real mode, at 0x1000) */
static const uint8_t guest_loop[] = { 0x40, 0xe6, 0x80, 0xeb, 0xfb };

struct client {
	const uint8_t *data;
	size_t size;
	int port;
	pthread_t thread;
	bool started;
};

static void *client_main(void *arg)
{
	struct client *c = arg;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)c->port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		for (size_t off = 0; off < c->size;) {
			ssize_t n = send(fd, c->data + off, c->size - off, MSG_NOSIGNAL);
			if (n <= 0)
				break;
			off += (size_t)n;
		}
		shutdown(fd, SHUT_WR);
		char buf[4096];   /* drain the replies until the stub closes */
		while (recv(fd, buf, sizeof(buf), 0) > 0)
			;
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void on_listen(void *arg, const char *addr, int port)
{
	(void)addr;
	struct client *c = arg;
	c->port = port;
	c->started = pthread_create(&c->thread, NULL, client_main, c) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t ram[0x1000 + sizeof(guest_loop)];
	memcpy(ram + 0x1000, guest_loop, sizeof(guest_loop));
	struct vm *vm = fuzz_vm_new(2, ram, sizeof(ram), 0x1000, false);
	struct client c = { .data = data, .size = size };
	struct gdb_options opt = { .addr = "127.0.0.1", .port = 0, .on_listen = on_listen, .arg = &c };
	enum gdb_end end;
	gdb_serve(vm, &opt, &end);
	if (c.started)
		pthread_join(c.thread, NULL);
	if (vm_state(vm) == VM_RUNNING)
		__builtin_trap();   /* a session must leave the VM stopped */
	vm_destroy(vm);
	return 0;
}
