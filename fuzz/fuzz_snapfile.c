/* fuzz_snapfile: the snapshot file decoder on a buffer, no VM: the file header
 * (snap_file_open), the section reader (snap_next_section, CRC-32C), and the
 * parsing and checks of every section (snap_parse_image: VM, vCPU records,
 * platform records, device list, memory runs, end marker), then the
 * bounds-checked getters on the sections' bytes.
 * Input: one control byte, then the file.
 *   bit 0  parse as a file (memory section and end marker required) or as an
 *          in-memory snapshot
 *   bit 1  do not check the CRCs: the fuzzer rarely gets a CRC right, so with
 *          this bit the target recomputes every section header's CRCs before
 *          parsing, which lets it reach the section contents */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/state/snap_image.h"
#include "engine/state/snapshot.h"
#include "fuzz/fuzz_snap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool file = data[0] & 1, fix = data[0] & 2;
	size_t len = size - 1;
	/* a copy of exactly the file's size, so a read past it is caught */
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, len);
	if (fix)
		fix_crcs(buf, len);

	struct snap_reader r;
	if (snap_file_open(buf, len, &r) == 0) {
		struct snap_reader r2 = r;
		struct image img;
		snap_parse_image(&r, &img, file);
		snap_image_free(&img);

		/* every section's bytes through the getters */
		struct snap_section s;
		while (snap_next_section(&r2, &s) > 0) {
			struct snap_reader g = { s.data, s.len, 0, 0 };
			char str[16];
			while (!g.err && g.pos < g.len) {
				switch (g.pos % 4) {
				case 0: snap_get_u32(&g); break;
				case 1: snap_get_u64(&g); break;
				case 2: snap_get_str(&g, str, sizeof(str)); break;
				default: snap_get_bytes(&g, g.len - g.pos > 3 ? 3 : 1); break;
				}
			}
		}
	}
	/* and the two CRC implementations must agree on anything */
	if (snap_crc32c(0, data, size) != snap_crc32c_portable(0, data, size))
		__builtin_trap();
	free(buf);
	return 0;
}
