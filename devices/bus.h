/* bus: the one registry of port-I/O and MMIO ranges of a VM. The run loop hands
 * every I/O and MMIO exit to bus_access() and never names a device. Each VM owns
 * its own bus, so clones and other VMs share nothing by accident. */
#ifndef HVWB_BUS_H
#define HVWB_BUS_H

#include <stdbool.h>
#include <stdint.h>

#include "device.h"

enum bus_space { BUS_PIO, BUS_MMIO };

/* One handler signature for both spaces. `addr` is the absolute port or guest
 * physical address; `data` holds `len` bytes (1, 2, 4 or 8), little endian, to
 * be filled on a read. Called on vCPU threads, possibly several at once: a
 * device protects its own registers. */
typedef void (*bus_io_fn)(void *opaque, uint64_t addr, void *data, unsigned len, bool is_write);

struct bus;

struct bus *bus_create(void);
/* Destroys every device added with bus_add_device, then the bus. */
void bus_destroy(struct bus *bus);

/* Claims [base, base+len). Fails with -EEXIST (message names the owner) if it
 * overlaps a range already claimed, -EINVAL for an empty or wrapping range. */
int bus_register(struct bus *bus, enum bus_space space, uint64_t base, uint64_t len,
		 bus_io_fn fn, void *opaque, const char *owner);
/* Releases the range that starts at `base`: -ENOENT if there is none. Waits
 * for calls of its handler still in flight (handlers run without the bus lock),
 * so it must not be called from inside that handler. */
int bus_unregister(struct bus *bus, enum bus_space space, uint64_t base);

/* Dispatches one access. Returns true if a device claimed it; false if no range
 * covers addr (a read is then filled with all ones, as on a real ISA bus). */
bool bus_access(struct bus *bus, enum bus_space space, uint64_t addr, void *data,
		unsigned len, bool is_write);

/* The bus owns its devices from here on: bus_destroy destroys them. */
void bus_add_device(struct bus *bus, struct device *dev);
/* Calls fn on every device, in the order added. */
void bus_for_each_device(struct bus *bus, void (*fn)(struct device *dev, void *arg), void *arg);

/* The owner name of the range that covers addr, or NULL. For statistics views. */
const char *bus_owner(struct bus *bus, enum bus_space space, uint64_t addr);

#endif
