/* debugexit: a port the guest writes to end the VM with a status code, as QEMU's
 * isa-debug-exit. Any write of 1, 2 or 4 bytes stops the VM as `exited(value)`. */
#ifndef HVWB_DEBUGEXIT_H
#define HVWB_DEBUGEXIT_H

#include <stdint.h>

#include "bus.h"

#define DEBUGEXIT_PORT 0xf4

int debugexit_create(struct bus *bus, const struct device_host *host, uint16_t port);

#endif
