/* tap: a few macros so the C unit tests speak TAP to prove.
 * Each test file is one program: plan, checks, and tap_done() as its return value. */
#ifndef HVWB_TAP_H
#define HVWB_TAP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>

static int tap_n, tap_failed, tap_planned;

static inline void tap_plan(int n) { tap_planned = n; printf("1..%d\n", n); fflush(stdout); }

static inline void tap_skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	exit(0);
}

static inline int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
#include <stdarg.h>
static inline int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond) {
		tap_failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...) do { \
	long long g_ = (long long)(got), w_ = (long long)(want); \
	if (!ok(g_ == w_, __VA_ARGS__)) printf("#   got %lld (0x%llx), want %lld (0x%llx)\n", g_, g_, w_, w_); \
} while (0)
#define is_str(got, want, ...) do { \
	const char *g_ = (got), *w_ = (want); \
	if (!ok(g_ && w_ && strcmp(g_, w_) == 0, __VA_ARGS__)) printf("#   got '%s', want '%s'\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
} while (0)
#define skip(n, why) do { for (int s_ = 0; s_ < (n); s_++) printf("ok %d # skip %s\n", ++tap_n, why); } while (0)

static inline int tap_done(void)
{
	if (tap_planned == 0)
		printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
