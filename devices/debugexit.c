/* debugexit: the guest's way to end its own run with a status code, like QEMU's
 * isa-debug-exit but passing the value through unchanged (QEMU reports
 * (value << 1) | 1). Test guests write their verdict here instead of relying on
 * a serial protocol. The port claims one address: a 2- or 4-byte write lands on
 * it as one access. */
#include "debugexit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

struct debugexit {
	struct device dev;
	struct device_host host;
	uint16_t port;
};

static void debugexit_io(void *opaque, uint64_t addr, void *data, unsigned len, bool is_write)
{
	struct debugexit *d = opaque;
	uint64_t v = 0;

	(void)addr;
	if (!is_write) {
		memset(data, 0xff, len);
		return;
	}
	if (len > sizeof(v))
		len = sizeof(v);
	/* The bus hands us little-endian bytes; so is the host. */
	memcpy(&v, data, len);
	if (d->host.request_exit)
		d->host.request_exit(d->host.opaque, (int64_t)v);
}

/* No state to reset; present so whoever walks the device list can call it. */
static void debugexit_reset(struct device *dev)
{
	(void)dev;
}

/* Its only state is the port, fixed at creation: the saved state is empty,
 * present so a snapshot lists every device. */
static int debugexit_save(struct device *dev, void **buf, size_t *len)
{
	(void)dev;
	*buf = NULL;
	*len = 0;
	return 0;
}

static int debugexit_restore(struct device *dev, const void *buf, size_t len)
{
	(void)dev;
	(void)buf;
	if (len != 0)
		return err_set(-EINVAL, "debug-exit: saved state must be empty, got %zu bytes", len);
	return 0;
}

/* Nothing to unregister: only the bus's own teardown destroys us. */
static void debugexit_destroy(struct device *dev)
{
	free((struct debugexit *)dev);
}

int debugexit_create(struct bus *bus, const struct device_host *host, uint16_t port)
{
	struct debugexit *d;
	int rc;

	if (!bus || !host)
		return err_set(-EINVAL, "debugexit_create: no bus or no host");
	d = calloc(1, sizeof(*d));
	if (!d)
		return err_set(-ENOMEM, "debug-exit: out of memory");
	d->dev.name = "debug-exit";
	d->dev.reset = debugexit_reset;
	d->dev.destroy = debugexit_destroy;
	d->dev.save = debugexit_save;
	d->dev.restore = debugexit_restore;
	d->host = *host;
	d->port = port;
	rc = bus_register(bus, BUS_PIO, port, 1, debugexit_io, d, d->dev.name);
	if (rc) {
		free(d);
		return err_wrap(rc, "debug-exit at 0x%x", port);
	}
	bus_add_device(bus, &d->dev);
	return 0;
}
