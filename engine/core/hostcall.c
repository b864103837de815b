/* hostcall: the queue of work vCPU threads hand to the main thread, and the
 * engine's one wait loop, which serves that queue while it waits, so a vCPU
 * blocked on a script device can never deadlock a pause or a run. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/err.h"
#include "engine/core/hostcall.h"
#include "engine/core/vm_internal.h"

pthread_mutex_t engine_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t engine_cond;
pthread_cond_t park_cond = PTHREAD_COND_INITIALIZER;
static pthread_once_t cond_once = PTHREAD_ONCE_INIT;

struct hostcall {
	hostcall_fn fn;
	void *arg;
	bool sync, done;
	struct hostcall *next;
};

static struct hostcall *queue_head, **queue_tail = &queue_head;
static int queue_efd = -1;
static volatile sig_atomic_t wait_interrupted;
static pthread_t main_thread;

/* The idle hook (hostcall_set_idle): main thread only, like every wait. */
static hostcall_fn idle_fn;
static void *idle_arg;
static uint64_t idle_period_ns, idle_next_ns;
static bool idle_running;

/* Waits use CLOCK_MONOTONIC so a clock change cannot stretch a timeout. */
static void init_once(void)
{
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&engine_cond, &a);
	pthread_condattr_destroy(&a);
	queue_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

__attribute__((constructor)) static void hostcall_init(void)
{
	main_thread = pthread_self();
	pthread_once(&cond_once, init_once);
}

static void enqueue(struct hostcall *c)
{
	c->next = NULL;
	*queue_tail = c;
	queue_tail = &c->next;
	uint64_t one = 1;
	if (queue_efd >= 0 && write(queue_efd, &one, sizeof(one)) < 0) {
		/* a full counter still polls readable: nothing to do */
	}
	pthread_cond_broadcast(&engine_cond);
}

void hostcall_call(hostcall_fn fn, void *arg)
{
	if (pthread_equal(pthread_self(), main_thread)) {
		fn(arg); /* a vCPU run on the main thread itself (vm_step) */
		return;
	}
	struct hostcall c = { .fn = fn, .arg = arg, .sync = true };
	pthread_mutex_lock(&engine_lock);
	enqueue(&c);
	while (!c.done)
		pthread_cond_wait(&engine_cond, &engine_lock);
	pthread_mutex_unlock(&engine_lock);
}

void hostcall_post(hostcall_fn fn, void *arg)
{
	struct hostcall *c = malloc(sizeof(*c));
	if (!c)
		return; /* an event lost to out-of-memory is not worth a crash */
	*c = (struct hostcall){ .fn = fn, .arg = arg };
	pthread_mutex_lock(&engine_lock);
	enqueue(c);
	pthread_mutex_unlock(&engine_lock);
}

void hostcall_post_locked(hostcall_fn fn, void *arg)
{
	struct hostcall *c = malloc(sizeof(*c));
	if (!c)
		return;
	*c = (struct hostcall){ .fn = fn, .arg = arg };
	enqueue(c);
}

/* Runs queued calls with engine_lock held on entry and exit, dropping it
 * around each call so the call may use the engine. */
static bool serve_locked(void)
{
	bool any = false;
	while (queue_head) {
		struct hostcall *c = queue_head;
		queue_head = c->next;
		if (!queue_head)
			queue_tail = &queue_head;
		pthread_mutex_unlock(&engine_lock);
		c->fn(c->arg);
		pthread_mutex_lock(&engine_lock);
		if (c->sync) {
			c->done = true;
			pthread_cond_broadcast(&engine_cond);
		} else {
			free(c);
		}
		any = true;
	}
	uint64_t n;
	if (queue_efd >= 0 && read(queue_efd, &n, sizeof(n)) < 0) {
		/* nothing was pending: fine */
	}
	return any;
}

bool hostcall_serve(void)
{
	pthread_mutex_lock(&engine_lock);
	bool any = serve_locked();
	pthread_mutex_unlock(&engine_lock);
	return any;
}

int hostcall_fd(void)
{
	return queue_efd;
}

void vm_interrupt_waits(void)
{
	wait_interrupted = 1;
}

bool engine_take_interrupt(void)
{
	if (!wait_interrupted)
		return false;
	wait_interrupted = 0;
	return true;
}

void vm_interrupt_clear(void)
{
	wait_interrupted = 0;
}

void hostcall_set_idle(hostcall_fn fn, void *arg, unsigned period_ms)
{
	idle_fn = fn;
	idle_arg = arg;
	idle_period_ns = (uint64_t)(period_ms ? period_ms : 1) * 1000000u;
	idle_next_ns = 0;
}

/* True when the idle hook is due; a hook already running (a wait inside the
 * hook itself) is never due, so it cannot recurse. */
static bool idle_due(uint64_t now)
{
	return idle_fn && !idle_running && now >= idle_next_ns;
}

/* Runs the idle hook with engine_lock dropped, as host calls are. */
static void run_idle(uint64_t now)
{
	idle_running = true;
	idle_next_ns = now + idle_period_ns;
	pthread_mutex_unlock(&engine_lock);
	idle_fn(idle_arg);
	pthread_mutex_lock(&engine_lock);
	idle_running = false;
}

/* Sleeps in short slices so an interrupt flag set by a signal handler (which
 * may not touch the condition variable) is seen promptly. */
#define WAIT_SLICE_NS (50 * 1000 * 1000ull)

int engine_wait_until(bool (*done)(void *arg), void *arg, uint64_t deadline_ns)
{
	for (;;) {
		serve_locked();
		if (done(arg))
			return 0;
		if (wait_interrupted) {
			wait_interrupted = 0;
			return -EINTR;
		}
		uint64_t now = stats_now_ns();
		/* Before the deadline check, so that loops polling with zero-time
		 * waits (the gdb stub) still let the hook run. */
		if (idle_due(now)) {
			run_idle(now);
			continue; /* the hook took time: look at everything again */
		}
		if (deadline_ns && now >= deadline_ns)
			return -ETIMEDOUT;
		uint64_t until = now + WAIT_SLICE_NS;
		if (idle_fn && !idle_running && idle_next_ns < until)
			until = idle_next_ns;
		if (deadline_ns && deadline_ns < until)
			until = deadline_ns;
		struct timespec ts = { .tv_sec = (time_t)(until / 1000000000u),
				       .tv_nsec = (long)(until % 1000000000u) };
		pthread_cond_timedwait(&engine_cond, &engine_lock, &ts);
	}
}
