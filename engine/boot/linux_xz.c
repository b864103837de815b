/* linux_xz: takes the vmlinux out of a bzImage's xz payload with liblzma, so
 * the kernel can be entered at startup_64 without running its decompressor,
 * which where ring 0 is emulated would take minutes. The kernel's build
 * appends the uncompressed size as 32 bits after the xz stream (size_append in
 * the kernel's Makefiles); it sizes the buffer, and the decoder stops at the
 * end of the stream, before those bytes. */
#include <errno.h>
#include <lzma.h>
#include <stdlib.h>

#include "util/err.h"
#include "util/le.h"
#include "engine/boot/linux.h"

#define VMLINUX_MAX (1ull << 30)

int linux_xz_extract(const uint8_t *payload, size_t len, uint8_t **out, size_t *outlen)
{
	if (len < 16)
		return err_set(-EINVAL, "payload of %zu bytes is too short for xz data", len);
	uint64_t size = le_get32(payload + len - 4);
	if (size == 0 || size > VMLINUX_MAX)
		return err_set(-EINVAL, "payload says it decompresses to %llu bytes: corrupt",
			       (unsigned long long)size);
	uint8_t *buf = malloc(size);
	if (!buf)
		return err_set(-ENOMEM, "out of memory for a %llu-byte vmlinux", (unsigned long long)size);
	lzma_stream s = LZMA_STREAM_INIT;
	/* Kernels use dictionaries of 32 MiB at most: a header asking for more
	 * (a 10 KB file can ask for 3 GiB) is refused, not allocated. */
	lzma_ret r = lzma_stream_decoder(&s, 256u << 20, 0);
	if (r == LZMA_OK) {
		s.next_in = payload;
		s.avail_in = len;
		s.next_out = buf;
		s.avail_out = size;
		r = lzma_code(&s, LZMA_FINISH);
	}
	size_t got = size - s.avail_out;
	lzma_end(&s);
	if (r == LZMA_MEMLIMIT_ERROR) {
		free(buf);
		return err_set(-EINVAL, "xz payload asks for more than 256 MiB to decompress: not a "
			       "kernel's (they use 32 MiB at most), corrupt or hostile");
	}
	if (r != LZMA_STREAM_END || got != size) {
		free(buf);
		return err_set(-EINVAL, "xz payload does not decompress (liblzma error %d, %zu of %llu "
			       "bytes): corrupt or truncated", (int)r, got, (unsigned long long)size);
	}
	*out = buf;
	*outlen = got;
	return 0;
}
