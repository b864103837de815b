/* hostcall: runs work on the main thread on behalf of vCPU threads. Script
 * devices and event callbacks live in the Lua state, which only the main thread
 * may touch; a vCPU posts the call and waits while the main thread, in any
 * engine wait or its idle loop, serves it. */
#ifndef HVWB_HOSTCALL_H
#define HVWB_HOSTCALL_H

#include <stdbool.h>

typedef void (*hostcall_fn)(void *arg);

/* From a vCPU thread: runs fn(arg) on the main thread and returns when it is done. */
void hostcall_call(hostcall_fn fn, void *arg);
/* From any thread: queues fn(arg) for the main thread and returns at once. */
void hostcall_post(hostcall_fn fn, void *arg);
/* The same, for a caller that holds engine_lock (the engine's own code). */
void hostcall_post_locked(hostcall_fn fn, void *arg);
/* From the main thread: runs everything queued. True if anything ran. */
bool hostcall_serve(void);
/* An fd that polls readable while calls are queued (for the console's loop). */
int hostcall_fd(void);
/* Main thread: makes every engine wait (vm_wait, vm_pause, wb.sleep ...) call
 * fn(arg) about every period_ms, without engine_lock, so a dashboard keeps
 * drawing and reading keys while Lua waits for a VM. fn NULL removes it. A
 * wait started inside fn does not call fn again. */
void hostcall_set_idle(hostcall_fn fn, void *arg, unsigned period_ms);

#endif
