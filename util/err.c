/* err: thread-local failure messages, so vCPU threads and the main thread never
 * overwrite each other's explanation. */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char err_buf[512];

int err_set(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err_buf, sizeof(err_buf), fmt, ap);
	va_end(ap);
	return code;
}

int err_wrap(int code, const char *fmt, ...)
{
	char prefix[256], old[sizeof(err_buf)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err_buf, sizeof(old));
	/* Truncating a long message is fine: the start says the most. */
	size_t n = strlen(prefix);
	if (n > sizeof(err_buf) - 3)
		n = sizeof(err_buf) - 3;
	memcpy(err_buf, prefix, n);
	memcpy(err_buf + n, ": ", 2);
	size_t room = sizeof(err_buf) - n - 3, len = strnlen(old, room);
	memcpy(err_buf + n + 2, old, len);
	err_buf[n + 2 + len] = '\0';
	return code;
}

const char *err_msg(void)
{
	return err_buf;
}
