/* output: everything the program writes to stdout and stderr while the
 * dashboard owns the terminal (Lua's print and io.write, error reports,
 * messages of C code, child processes of os.execute) lands in the console
 * pane instead of scribbling over the screen. fds 1 and 2 are pointed at a
 * pipe; a small thread only moves bytes from the pipe into a buffer, so a Lua
 * loop printing megabytes can never block on a full pipe while the main
 * thread, the only drainer otherwise, is busy running that very loop. The
 * main thread takes the bytes on its next tick (an eventfd wakes it). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tui/tui_int.h"

#define KEEP_MAX (256 * 1024)   /* bytes held between two drains; older ones go */

static int tty_out = -1, tty_err = -1;  /* the real stdout and stderr */
static int pipe_rd = -1, wake_fd = -1;
static pthread_t reader;
static bool reader_started;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *held;
static size_t nheld;

static void hold(const char *p, size_t n)
{
	pthread_mutex_lock(&lock);
	if (n > KEEP_MAX) {
		p += n - KEEP_MAX;
		n = KEEP_MAX;
	}
	if (nheld + n > KEEP_MAX) {  /* nobody drained for long: keep the newest */
		size_t drop = nheld + n - KEEP_MAX;
		memmove(held, held + drop, nheld - drop);
		nheld -= drop;
	}
	memcpy(held + nheld, p, n);
	nheld += n;
	pthread_mutex_unlock(&lock);
	uint64_t one = 1;
	if (write(wake_fd, &one, sizeof(one)) < 0) {
		/* the counter is already non-zero: the main thread will look */
	}
}

static void *read_loop(void *arg)
{
	(void)arg;
	char buf[4096];
	for (;;) {
		ssize_t n = read(pipe_rd, buf, sizeof(buf));
		if (n > 0)
			hold(buf, (size_t)n);
		else if (n == 0 || errno != EINTR)
			return NULL; /* every writer closed: the dashboard is ending */
	}
}

int tui_output_open(void)
{
	int p[2];
	fflush(stdout);
	fflush(stderr);
	held = malloc(KEEP_MAX);
	tty_out = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	tty_err = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!held || tty_out < 0 || tty_err < 0 || wake_fd < 0 || pipe2(p, O_CLOEXEC) < 0) {
		tui_output_close();
		return -1;
	}
	pipe_rd = p[0];
	dup2(p[1], STDOUT_FILENO);
	dup2(p[1], STDERR_FILENO);
	close(p[1]);
	setvbuf(stdout, NULL, _IOLBF, 0); /* a pipe would make it fully buffered */
	reader_started = pthread_create(&reader, NULL, read_loop, NULL) == 0;
	if (!reader_started) {
		tui_output_close();
		return -1;
	}
	return tty_out;
}

void tui_output_restore_fds(void)
{
	if (tty_out >= 0)
		dup2(tty_out, STDOUT_FILENO);
	if (tty_err >= 0)
		dup2(tty_err, STDERR_FILENO);
}

void tui_output_close(void)
{
	fflush(stdout);
	fflush(stderr);
	tui_output_restore_fds(); /* closes the pipe's last write ends: the reader ends */
	if (reader_started)
		pthread_join(reader, NULL);
	reader_started = false;
	int *fds[] = { &pipe_rd, &wake_fd, &tty_out, &tty_err };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	free(held);
	held = NULL;
	nheld = 0;
}

int tui_output_fd(void)
{
	return wake_fd;
}

bool tui_output_drain(struct tui_lines *to)
{
	fflush(stdout); /* io.write does not flush on its own */
	fflush(stderr);
	uint64_t n;
	if (read(wake_fd, &n, sizeof(n)) < 0) {
		/* nothing signalled; there may still be bytes from before */
	}
	pthread_mutex_lock(&lock);
	bool any = nheld > 0;
	tui_lines_feed(to, held, nheld);
	nheld = 0;
	pthread_mutex_unlock(&lock);
	return any;
}
