/* device: what every device model shares, so the engine can walk one list of
 * devices (reset, destroy, and later snapshot/restore and statistics) without
 * knowing any device by name. A device embeds `struct device` as a field and
 * registers its port or MMIO ranges on its VM's bus. */
#ifndef HVWB_DEVICE_H
#define HVWB_DEVICE_H

#include <stddef.h>
#include <stdint.h>

struct bus;

/* What a device may ask of the VM that owns it. Devices never see KVM or
 * `struct vm`; the engine fills this in. */
struct device_host {
	void *opaque;
	/* Drive an interrupt line (GSI) of the in-kernel irqchip: level 1 or 0. */
	void (*set_irq)(void *opaque, unsigned gsi, int level);
	/* Stop the VM as `exited` with this code (debug-exit). */
	void (*request_exit)(void *opaque, int64_t code);
	/* Stop the VM as `crashed` with a reason a person can read (a device that
	 * cannot go on, e.g. a script device whose callback raised an error). */
	void (*request_crash)(void *opaque, const char *reason);
};

struct device {
	const char *name;               /* "uart16550", "debug-exit", "lua" ... */
	struct device *next;            /* the owning bus's list */
	void (*reset)(struct device *dev);
	void (*destroy)(struct device *dev); /* frees the containing struct */
	/* Optional, for snapshots; called on the main thread with the VM not
	 * running. save returns the device's state as bytes in *buf (malloc'd,
	 * the caller frees); restore takes them back and fails (-EINVAL and a
	 * message) on bytes it does not accept, changing nothing then. */
	int (*save)(struct device *dev, void **buf, size_t *len);
	int (*restore)(struct device *dev, const void *buf, size_t len);
	/* Optional, for clones: adds an equivalent device (same ranges and
	 * behaviour, its own state) to another VM's bus. */
	int (*clone)(struct device *dev, struct bus *bus, const struct device_host *host);
};

#endif
