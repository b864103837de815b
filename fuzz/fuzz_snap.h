/* fuzz_snap.h: what the snapshot-file targets share (fuzz_snapfile,
 * fuzz_snaprestore). The fuzzer rarely gets a CRC right, so with bit 1 of
 * their control byte they recompute every section header's CRCs first,
 * which lets mutations reach the sections' contents. */
#ifndef FUZZ_SNAP_H
#define FUZZ_SNAP_H

#include <stddef.h>
#include <stdint.h>

#include "engine/state/snap_image.h"

static inline uint64_t fuzz_rd(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static inline void fuzz_wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Rewrites each section header's payload and header CRCs, as far as the
 * headers chain; a length running past the end stops it. */
static inline void fix_crcs(uint8_t *p, size_t len)
{
	size_t pos = SNAP_FILE_HEADER;
	while (pos <= len && len - pos >= SNAP_SECTION_HEADER) {
		uint8_t *h = p + pos;
		uint64_t slen = fuzz_rd(h + 8, 8);
		pos += SNAP_SECTION_HEADER;
		if (slen > len - pos)
			slen = len - pos;
		fuzz_wr32(h + 16, snap_crc32c(0, p + pos, slen));
		fuzz_wr32(h + 20, snap_crc32c(0, h, 20));
		pos += slen;
	}
}

#endif
