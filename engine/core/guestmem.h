/* guestmem: the view of guest RAM that the loaders and boot set-up work on: one
 * host mapping of guest-physical [0, size). Kept separate from `struct vm` so the
 * loaders can be tested on plain buffers without KVM. */
#ifndef HVWB_GUESTMEM_H
#define HVWB_GUESTMEM_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct guest_ram {
	uint8_t *host;   /* host address of guest-physical 0 */
	uint64_t size;   /* bytes of guest RAM */
};

/* True if [gpa, gpa+len) lies inside guest RAM (no wrap-around). */
static inline bool guest_range_ok(const struct guest_ram *ram, uint64_t gpa, uint64_t len)
{
	return gpa <= ram->size && len <= ram->size - gpa;
}

#endif
