/* err: the engine's one way of reporting failure.
 * Engine functions return 0 or a negative errno-style code and leave a message a
 * person can read in a thread-local buffer; callers (Lua, the console, tests) show it.
 * The engine itself never prints and never exits. */
#ifndef HVWB_ERR_H
#define HVWB_ERR_H

#include <stddef.h>

/* Sets the message and returns `code` (a negative errno value), so a failure
 * reads as `return err_set(-EINVAL, "size %s is not ...", s);`. */
int err_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes the current message with more context: "loading x.elf: <old message>". */
int err_wrap(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The message of the last failure on this thread ("" if none). */
const char *err_msg(void);

#endif
