/* disasm from several threads at once, as vCPU threads (emulation failures),
 * the main thread and the dashboard do: 4 threads start together behind a
 * barrier (so their first decodes, which open the capstone handles, race)
 * and each decodes a mix of 16-, 32- and 64-bit instructions many times,
 * checking every result against what one thread decoded alone. A shared
 * handle garbles results (cs_disasm writes into it); under ASan it also
 * shows as leaked handles (two threads opening the same lazily shared one):
 * the race runs in 16 fresh processes, whose exit LeakSanitizer checks.
 * Each thread's handles must be closed when it exits: the count of open
 * handles returns to where it was. */
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/debug/disasm.h"
#include "tap.h"

#define THREADS 4
#define ROUNDS 20000

static const struct sample {
	int bits;
	uint8_t code[15];
	size_t len;
} samples[] = {
	{ 64, { 0x48, 0x83, 0xec, 0x08 }, 4 },                          /* sub rsp, 8 */
	{ 64, { 0x48, 0x8b, 0x05, 0x10, 0x00, 0x00, 0x00 }, 7 },        /* mov rax, [rip+0x10] */
	{ 64, { 0xe8, 0x00, 0x01, 0x00, 0x00 }, 5 },                    /* call */
	{ 32, { 0x8d, 0x44, 0x24, 0x04 }, 4 },                          /* lea eax, [esp+4] */
	{ 32, { 0xcd, 0x80 }, 2 },                                      /* int 0x80 */
	{ 16, { 0xb8, 0x34, 0x12 }, 3 },                                /* mov ax, 0x1234 */
	{ 16, { 0xea, 0x00, 0x7c, 0x00, 0x00 }, 5 },                    /* ljmp 0:0x7c00 */
	{ 64, { 0x0f, 0x0b }, 2 },                                      /* ud2 */
	{ 64, { 0x06 }, 1 },                                            /* invalid in 64-bit */
};
#define NSAMPLES (sizeof(samples) / sizeof(samples[0]))

static struct disasm_insn want[NSAMPLES], first[THREADS][NSAMPLES];
static pthread_barrier_t start;

static bool same(const struct disasm_insn *a, const struct disasm_insn *b)
{
	return a->len == b->len && a->valid == b->valid && strcmp(a->text, b->text) == 0 &&
	       a->is_call == b->is_call && a->has_target == b->has_target && a->target == b->target;
}

/* Decodes ROUNDS times; the first decode of each sample is kept, and every
 * later one must equal it. No reference exists yet, so the first decodes
 * of all threads race to open their handles. */
static void *worker(void *arg)
{
	long id = (long)arg, bad = 0;
	pthread_barrier_wait(&start);
	for (int round = 0; round < ROUNDS; round++) {
		size_t i = (size_t)(round + id) % NSAMPLES;
		struct disasm_insn got;
		disasm_decode(samples[i].bits, 0x1000, samples[i].code, samples[i].len, NULL, &got);
		if (round < (int)NSAMPLES)
			first[id][i] = got;
		else if (!same(&got, &first[id][i]))
			bad++;
	}
	return (void *)bad;
}

/* One race: THREADS workers behind a barrier; 0 if every decode agreed and
 * every handle they opened was closed again. */
static int race(long *bad_out)
{
	int base = disasm_open_handles();
	pthread_barrier_init(&start, NULL, THREADS);
	pthread_t th[THREADS];
	for (long i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	long bad = 0;
	for (int i = 0; i < THREADS; i++) {
		void *r;
		pthread_join(th[i], &r);
		bad += (long)r;
	}
	pthread_barrier_destroy(&start);
	*bad_out = bad;
	return bad == 0 && disasm_open_handles() == base ? 0 : 1;
}

int main(void)
{
	tap_plan(6);
	/* The first decodes race to open handles only once per process, so the
	 * race runs in fresh processes too; under ASan a handle opened twice
	 * and lost is a leak, and LeakSanitizer fails the child at its exit. */
	int children = 16, failed = 0;
	for (int c = 0; c < children; c++) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			long bad;
			exit(race(&bad));
		}
		int st = 0;
		failed += pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	is_int(failed, 0, "%d fresh processes: each race of %d threads decoded consistently and leaked nothing",
	       children, THREADS);

	int base = disasm_open_handles();
	long bad;
	race(&bad);
	is_int(bad, 0, "%d threads x %d decodes at once: each sample always decodes the same", THREADS, ROUNDS);
	is_int(disasm_open_handles(), base, "the threads' handles were closed when they exited");

	/* the reference, decoded by the main thread alone afterwards */
	for (size_t i = 0; i < NSAMPLES; i++)
		disasm_decode(samples[i].bits, 0x1000, samples[i].code, samples[i].len, NULL, &want[i]);
	ok(strcmp(want[0].text, "sub rsp, 8") == 0 && want[2].is_call && want[1].has_target &&
	   want[1].target == 0x1017 && !want[8].valid, "the reference decodes (%s; %s)", want[0].text, want[1].text);
	int wrong = 0;
	for (int t = 0; t < THREADS; t++)
		for (size_t i = 0; i < NSAMPLES; i++)
			wrong += !same(&first[t][i], &want[i]);
	is_int(wrong, 0, "and what the threads decoded matches it");
	is_int(disasm_open_handles() - base, 3, "the main thread has one handle per code size");
	return tap_done();
}
