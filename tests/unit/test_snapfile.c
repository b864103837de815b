/* Unit tests for the snapshot format's building blocks: CRC-32C (hardware and
 * table versions against the standard check value), buffers and sections,
 * bounds-checked reading, refusal of corrupt and cut-short input, the file
 * header, and the atomic write (a file appears whole or not at all). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"
#include "engine/state/snapshot.h"
#include "tap.h"

static void test_crc(void)
{
	/* The CRC-32C check value of "123456789" (RFC 3720, appendix B.4). */
	is_int(snap_crc32c(0, "123456789", 9), 0xe3069283u, "crc32c of 123456789");
	is_int(snap_crc32c_portable(0, "123456789", 9), 0xe3069283u, "portable crc32c agrees");
	uint8_t big[10007];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 31 + 7);
	uint32_t whole = snap_crc32c(0, big, sizeof(big));
	is_int(snap_crc32c_portable(0, big, sizeof(big)), whole, "both agree on 10007 unaligned bytes");
	is_int(snap_crc32c(snap_crc32c(0, big, 5000), big + 5000, sizeof(big) - 5000), whole,
	       "a CRC can be computed in pieces");
	is_int(snap_crc32c(0, big + 1, 33), snap_crc32c_portable(0, big + 1, 33), "odd start and length");
}

/* Two sections, as snapshot.c writes them. */
static void build(struct snap_buf *b)
{
	size_t at = snap_section_begin(b, SNAP_SEC_VM);
	snap_buf_u32(b, 0x11223344);
	snap_buf_u64(b, 0x5566778899aabbccull);
	snap_buf_str(b, "hello");
	snap_section_end(b, at);
	at = snap_section_begin(b, SNAP_SEC_END);
	snap_section_end(b, at);
}

static void test_sections(void)
{
	struct snap_buf b = { 0 };
	build(&b);
	is_int(b.err, 0, "building sections succeeds");
	is_int(b.len, 2 * SNAP_SECTION_HEADER + 4 + 8 + 4 + 5, "sections have the expected size");
	struct snap_reader r = { b.data, b.len, 0, 0 };
	struct snap_section s;
	is_int(snap_next_section(&r, &s), 1, "first section found");
	is_int(s.type, SNAP_SEC_VM, "its type");
	is_int(s.len, 21, "its length");
	struct snap_reader p = { s.data, s.len, 0, 0 };
	is_int(snap_get_u32(&p), 0x11223344, "u32 read back");
	ok(snap_get_u64(&p) == 0x5566778899aabbccull, "u64 read back");
	char str[8];
	snap_get_str(&p, str, sizeof(str));
	is_str(str, "hello", "string read back");
	is_int(p.err, 0, "no overrun so far");
	snap_get_u32(&p);
	ok(p.err != 0, "reading past the end sets err");
	is_int(snap_next_section(&r, &s), 1, "second section");
	is_int(s.type, SNAP_SEC_END, "is the end marker");
	is_int(snap_next_section(&r, &s), 0, "then the end of input");

	char small[4];
	struct snap_reader longstr = { b.data + SNAP_SECTION_HEADER + 12, 9, 0, 0 };
	snap_get_str(&longstr, small, sizeof(small));
	ok(longstr.err != 0 && small[0] == 0, "a string longer than its buffer is refused");

	/* Every single flipped byte is caught, wherever it is. */
	int caught = 0;
	for (size_t i = 0; i < b.len; i++) {
		b.data[i] ^= 0x40;
		struct snap_reader c = { b.data, b.len, 0, 0 };
		int rc;
		while ((rc = snap_next_section(&c, &s)) > 0)
			;
		caught += rc < 0;
		b.data[i] ^= 0x40;
	}
	is_int(caught, b.len, "each of the %zu bytes, flipped, makes the input refused", b.len);
	int cut = 0;
	for (size_t n = 1; n < b.len; n++) {
		struct snap_reader c = { b.data, n, 0, 0 };
		int rc;
		while ((rc = snap_next_section(&c, &s)) > 0)
			;
		cut += rc < 0 || c.pos == n; /* a cut exactly between sections reads as fewer sections */
	}
	is_int(cut, b.len - 1, "every truncation is refused or ends on a section boundary");
	struct snap_reader c = { b.data, SNAP_SECTION_HEADER + 3, 0, 0 };
	ok(snap_next_section(&c, &s) < 0 && strstr(err_msg(), "truncated"), "a cut payload says truncated: %s", err_msg());
	snap_buf_free(&b);
}

static void test_header(void)
{
	uint8_t h[SNAP_FILE_HEADER + 4];
	memcpy(h, SNAP_MAGIC, 8);
	uint32_t v = SNAP_VERSION, size = SNAP_FILE_HEADER;
	memcpy(h + 8, &v, 4);
	memcpy(h + 12, &size, 4);
	struct snap_reader r;
	is_int(snap_file_open(h, SNAP_FILE_HEADER, &r), 0, "a good header opens");
	is_int(r.pos, SNAP_FILE_HEADER, "and the reader starts after it");
	ok(snap_file_open(h, 10, &r) < 0 && strstr(err_msg(), "shorter"), "a short file: %s", err_msg());
	h[0] = 'X';
	ok(snap_file_open(h, SNAP_FILE_HEADER, &r) < 0 && strstr(err_msg(), "magic"), "wrong magic: %s", err_msg());
	h[0] = 'H';
	v = 7;
	memcpy(h + 8, &v, 4);
	ok(snap_file_open(h, SNAP_FILE_HEADER, &r) < 0 && strstr(err_msg(), "version 7"), "wrong version: %s", err_msg());
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(1 << 20);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

static int files_in(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "ls -A %s | wc -l", dir);
	FILE *p = popen(cmd, "r");
	int n = -1;
	if (p) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

static void test_atomic_write(void)
{
	char dir[] = "/tmp/hvwb-snapfile-XXXXXX";
	if (!mkdtemp(dir)) {
		skip(7, "no temp directory");
		return;
	}
	char path[256];
	snprintf(path, sizeof(path), "%s/vm.snap", dir);
	struct snap_out o;
	is_int(snap_out_open(&o, path), 0, "a temp file opens next to the target");
	char big[300000];
	memset(big, 'a', sizeof(big));
	snap_out_crc_reset(&o);
	ok(snap_out_write(&o, "0123", 4) == 0 && snap_out_write(&o, big, sizeof(big)) == 0, "writes succeed");
	is_int(o.crc, snap_crc32c(snap_crc32c(0, "0123", 4), big, sizeof(big)), "the running CRC covers what was written");
	ok(access(path, F_OK) != 0, "nothing at the target before commit");
	ok(snap_out_patch(&o, SNAP_FILE_HEADER, "ABCD", 4) == 0 && snap_out_commit(&o) == 0, "patch and commit");
	size_t len = 0;
	char *got = slurp(path, &len);
	ok(got && len == SNAP_FILE_HEADER + 4 + sizeof(big) && memcmp(got, SNAP_MAGIC, 8) == 0 &&
	   memcmp(got + SNAP_FILE_HEADER, "ABCD", 4) == 0, "the file holds header, patched bytes and data");
	free(got);
	snap_out_open(&o, path);
	snap_out_write(&o, "junk", 4);
	snap_out_abort(&o);
	got = slurp(path, &len);
	ok(got && len == SNAP_FILE_HEADER + 4 + sizeof(big) && files_in(dir) == 1,
	   "an aborted write leaves the old file whole and no temp file");
	free(got);
	unlink(path);
	rmdir(dir);
	ok(snap_out_open(&o, "/nonexistent-dir/x.snap") < 0 && strstr(err_msg(), "cannot create"),
	   "an impossible path fails with a message: %s", err_msg());
}

int main(void)
{
	tap_plan(35);
	test_crc();
	test_sections();
	test_header();
	test_atomic_write();
	return tap_done();
}
