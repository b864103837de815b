/* snapfile: the byte level of snapshots, shared by in-memory snapshots and
 * files: CRC-32C, little-endian buffers, sections (type, length, checksum of
 * the payload, checksum of the header itself, so a flipped length is caught
 * before it is believed), bounds-checked reading, and the atomic file write
 * (an unnamed O_TMPFILE file in the same directory, fsync, link to a temp
 * name, rename, fsync of the directory) that makes a crash in the middle
 * leave the previous file whole and nothing else behind. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"
#include "engine/state/snapshot.h"

#define OUT_BUF (256u * 1024u)

/* ---- CRC-32C ---- */

static uint32_t crc_table[256];

static void crc_init_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
		crc_table[i] = c;
	}
}

uint32_t snap_crc32c_portable(uint32_t crc, const void *data, size_t len)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, crc_init_table);
	const uint8_t *p = data;
	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

#if defined(__x86_64__)
/* The crc32 instruction does 8 bytes a cycle or so: a 16 MiB memory section
 * costs about 2 ms instead of 30 with the table. */
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t c = ~crc;
	while (len && ((uintptr_t)p & 7)) {
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
		len--;
	}
	for (; len >= 8; len -= 8, p += 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
	}
	while (len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return ~(uint32_t)c;
}
#endif

uint32_t snap_crc32c(uint32_t crc, const void *data, size_t len)
{
#if defined(__x86_64__)
	static int hw = -1;
	if (hw < 0)
		hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
	if (hw)
		return crc32c_hw(crc, data, len);
#endif
	return snap_crc32c_portable(crc, data, len);
}

/* ---- buffers ---- */

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

void snap_buf_put(struct snap_buf *b, const void *p, size_t n)
{
	if (b->err)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *d = realloc(b->data, cap);
		if (!d) {
			b->err = -ENOMEM;
			return;
		}
		b->data = d;
		b->cap = cap;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

void snap_buf_u32(struct snap_buf *b, uint32_t v)
{
	uint8_t x[4];
	put_le(x, v, 4);
	snap_buf_put(b, x, 4);
}

void snap_buf_u64(struct snap_buf *b, uint64_t v)
{
	uint8_t x[8];
	put_le(x, v, 8);
	snap_buf_put(b, x, 8);
}

void snap_buf_str(struct snap_buf *b, const char *s)
{
	size_t n = strlen(s);
	snap_buf_u32(b, (uint32_t)n);
	snap_buf_put(b, s, n);
}

void snap_buf_free(struct snap_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void snap_section_header(uint8_t out[SNAP_SECTION_HEADER], uint32_t type, uint64_t len, uint32_t crc)
{
	put_le(out, type, 4);
	put_le(out + 4, 0, 4);
	put_le(out + 8, len, 8);
	put_le(out + 16, crc, 4);
	put_le(out + 20, snap_crc32c(0, out, 20), 4);
}

size_t snap_section_begin(struct snap_buf *b, uint32_t type)
{
	size_t at = b->len;
	uint8_t h[SNAP_SECTION_HEADER] = { 0 };
	put_le(h, type, 4);
	snap_buf_put(b, h, sizeof(h));
	return at;
}

void snap_section_end(struct snap_buf *b, size_t at)
{
	if (b->err)
		return;
	uint8_t *h = b->data + at;
	const uint8_t *payload = h + SNAP_SECTION_HEADER;
	uint64_t len = b->len - at - SNAP_SECTION_HEADER;
	snap_section_header(h, (uint32_t)get_le(h, 4), len, snap_crc32c(0, payload, len));
}

/* ---- reading ---- */

const void *snap_get_bytes(struct snap_reader *r, size_t n)
{
	if (r->err || n > r->len - r->pos) {
		r->err = -EINVAL;
		return NULL;
	}
	const void *p = r->p + r->pos;
	r->pos += n;
	return p;
}

uint32_t snap_get_u32(struct snap_reader *r)
{
	const uint8_t *p = snap_get_bytes(r, 4);
	return p ? (uint32_t)get_le(p, 4) : 0;
}

uint64_t snap_get_u64(struct snap_reader *r)
{
	const uint8_t *p = snap_get_bytes(r, 8);
	return p ? get_le(p, 8) : 0;
}

void snap_get_str(struct snap_reader *r, char *out, size_t max)
{
	uint32_t n = snap_get_u32(r);
	const char *p = n < max ? snap_get_bytes(r, n) : NULL;
	if (!p) {
		r->err = -EINVAL;
		out[0] = '\0';
		return;
	}
	memcpy(out, p, n);
	out[n] = '\0';
}

int snap_next_section(struct snap_reader *r, struct snap_section *s)
{
	if (r->pos == r->len)
		return 0;
	size_t at = r->pos;
	const uint8_t *h = snap_get_bytes(r, SNAP_SECTION_HEADER);
	if (!h)
		return err_set(-EINVAL, "the snapshot is truncated: a section header at byte %zu is cut short", at);
	if (get_le(h + 20, 4) != snap_crc32c(0, h, 20))
		return err_set(-EINVAL, "the snapshot is corrupt: the section header at byte %zu fails its checksum", at);
	s->type = (uint32_t)get_le(h, 4);
	s->len = get_le(h + 8, 8);
	s->offset = at;
	if (s->len > r->len - r->pos)
		return err_set(-EINVAL, "the snapshot is truncated: section %u at byte %zu claims %llu bytes, %zu remain",
			       s->type, at, (unsigned long long)s->len, r->len - r->pos);
	s->data = r->p + r->pos;
	r->pos += s->len;
	if (get_le(h + 16, 4) != snap_crc32c(0, s->data, s->len))
		return err_set(-EINVAL, "the snapshot is corrupt: section %u at byte %zu fails its checksum",
			       s->type, at);
	return 1;
}

int snap_file_open(const uint8_t *p, size_t len, struct snap_reader *r)
{
	if (len < SNAP_FILE_HEADER)
		return err_set(-EINVAL, "not an hvwb snapshot: the file is %zu bytes, shorter than its header", len);
	if (memcmp(p, SNAP_MAGIC, 8) != 0)
		return err_set(-EINVAL, "not an hvwb snapshot: wrong magic (want \"%s\")", SNAP_MAGIC);
	uint32_t version = (uint32_t)get_le(p + 8, 4);
	if (version != SNAP_VERSION)
		return err_set(-EINVAL, "snapshot format version %u: this hvwb reads version %u only",
			       version, SNAP_VERSION);
	uint32_t hsize = (uint32_t)get_le(p + 12, 4);
	if (hsize != SNAP_FILE_HEADER)
		return err_set(-EINVAL, "the snapshot is corrupt: header size %u, want %u", hsize, SNAP_FILE_HEADER);
	*r = (struct snap_reader){ p, len, SNAP_FILE_HEADER, 0 };
	return 0;
}

/* ---- atomic file writing ---- */

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *q = p;
	while (n) {
		ssize_t w = write(fd, q, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -(w < 0 ? errno : EIO);
		q += w;
		n -= (size_t)w;
	}
	return 0;
}

/* "<base>.tmp" and six letters or digits: a temp name snap_out gives out. */
static bool temp_name_of(const char *name, const char *base)
{
	size_t n = strlen(base);
	if (strncmp(name, base, n) != 0 || strncmp(name + n, ".tmp", 4) != 0 || strlen(name + n + 4) != 6)
		return false;
	for (const char *c = name + n + 4; *c; c++)
		if (!isalnum((unsigned char)*c))
			return false;
	return true;
}

/* Removes the temp files of saves to path that were killed. A save under way
 * holds an flock on its file, and one just created is still empty (the lock
 * comes before the first byte), so neither is touched. */
static void remove_stale(const char *path)
{
	char *d = strdup(path), *b = strdup(path);
	DIR *dp = NULL;
	int dfd = d && b ? open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (dfd >= 0 && !(dp = fdopendir(dfd)))
		close(dfd);
	const char *base = b ? basename(b) : "";
	struct dirent *e;
	while (dp && (e = readdir(dp)) != NULL) {
		if (!temp_name_of(e->d_name, base))
			continue;
		int fd = openat(dirfd(dp), e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		struct stat st;
		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
		    flock(fd, LOCK_EX | LOCK_NB) == 0)
			unlinkat(dirfd(dp), e->d_name, 0);
		if (fd >= 0)
			close(fd);
	}
	if (dp)
		closedir(dp);
	free(d);
	free(b);
}

/* An unnamed file in path's directory, or -errno (-EOPNOTSUPP and the like
 * where the file system or kernel has no O_TMPFILE). */
static int open_unnamed(const char *path)
{
#ifdef O_TMPFILE
	char *d = strdup(path);
	if (!d)
		return -ENOMEM;
	int fd = open(dirname(d), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	int e = errno;
	free(d);
	return fd >= 0 ? fd : -e;
#else
	(void)path;
	return -EOPNOTSUPP;
#endif
}

int snap_out_open(struct snap_out *o, const char *path)
{
	memset(o, 0, sizeof(*o));
	o->fd = -1;
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return err_set(S_ISDIR(st.st_mode) ? -EISDIR : -EEXIST, "%s is %s: a snapshot file cannot replace it",
			       path, S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
	o->path = strdup(path);
	size_t n = strlen(path) + 16;
	o->tmp = malloc(n);
	o->buf = malloc(OUT_BUF);
	if (!o->path || !o->tmp || !o->buf) {
		snap_out_abort(o);
		return err_set(-ENOMEM, "out of memory");
	}
	remove_stale(path);
	snprintf(o->tmp, n, "%s.tmpXXXXXX", path);
	o->fd = open_unnamed(path);
	if (o->fd < 0) { /* no O_TMPFILE here: a named temp file */
		o->fd = mkostemp(o->tmp, O_CLOEXEC);
		o->tmp_named = o->fd >= 0;
	}
	if (o->fd < 0) {
		int e = errno;
		snap_out_abort(o);
		return err_set(-e, "cannot create a file next to %s: %s", path, strerror(e));
	}
	flock(o->fd, LOCK_EX | LOCK_NB); /* a new file: nobody else can hold it */
	uint8_t h[SNAP_FILE_HEADER];
	memcpy(h, SNAP_MAGIC, 8);
	put_le(h + 8, SNAP_VERSION, 4);
	put_le(h + 12, SNAP_FILE_HEADER, 4);
	return snap_out_write(o, h, sizeof(h));
}

static int out_flush(struct snap_out *o)
{
	int r = write_all(o->fd, o->buf, o->used);
	o->used = 0;
	return r < 0 ? err_set(r, "writing the snapshot for %s: %s", o->path, strerror(-r)) : 0;
}

/* Small pieces are gathered; large ones (guest pages) go straight from the
 * caller's memory to the file. */
int snap_out_write(struct snap_out *o, const void *p, size_t n)
{
	o->crc = snap_crc32c(o->crc, p, n);
	o->off += n;
	if (o->used + n <= OUT_BUF) {
		memcpy(o->buf + o->used, p, n);
		o->used += n;
		return 0;
	}
	int r = out_flush(o);
	if (r == 0 && n <= OUT_BUF) {
		memcpy(o->buf, p, n);
		o->used = n;
	} else if (r == 0 && (r = write_all(o->fd, p, n)) < 0) {
		r = err_set(r, "writing the snapshot for %s: %s", o->path, strerror(-r));
	}
	return r;
}

void snap_out_crc_reset(struct snap_out *o)
{
	o->crc = 0;
}

int snap_out_patch(struct snap_out *o, uint64_t off, const void *p, size_t n)
{
	int r = out_flush(o);
	if (r < 0)
		return r;
	if (pwrite(o->fd, p, n, (off_t)off) != (ssize_t)n)
		return err_set(-EIO, "writing the snapshot for %s: %s", o->path, strerror(errno));
	return 0;
}

static int fsync_dir(const char *path)
{
	char *copy = strdup(path);
	if (!copy)
		return err_set(-ENOMEM, "out of memory");
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;
	if (fd < 0 || fsync(fd) < 0)
		r = err_set(-errno, "cannot sync the directory of %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(copy);
	return r;
}

/* Gives the finished unnamed file a temp name (six random letters and digits
 * after "<path>.tmp", like mkostemp's) so it can be renamed over path. */
static int link_unnamed(struct snap_out *o)
{
	static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	char proc[64];
	size_t n = strlen(o->path);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", o->fd);
	for (int tries = 0; tries < 100; tries++) {
		uint8_t rnd[6];
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return err_set(-EIO, "getrandom: %s", strerror(errno));
		for (int i = 0; i < 6; i++)
			o->tmp[n + 4 + i] = chars[rnd[i] % (sizeof(chars) - 1)];
		int r = linkat(AT_FDCWD, proc, AT_FDCWD, o->tmp, AT_SYMLINK_FOLLOW);
		if (r < 0 && errno == ENOENT) /* no /proc: the privileged way */
			r = linkat(o->fd, "", AT_FDCWD, o->tmp, AT_EMPTY_PATH);
		if (r == 0) {
			o->tmp_named = true;
			return 0;
		}
		if (errno != EEXIST)
			return err_set(-errno, "cannot link the snapshot for %s into its directory: %s", o->path,
				       strerror(errno));
	}
	return err_set(-EEXIST, "no free temp name next to %s", o->path);
}

int snap_out_commit(struct snap_out *o)
{
	int r = out_flush(o);
	if (r == 0 && fsync(o->fd) < 0)
		r = err_set(-errno, "fsync of the snapshot for %s: %s", o->path, strerror(errno));
	if (r == 0 && !o->tmp_named)
		r = link_unnamed(o);
	if (r == 0 && rename(o->tmp, o->path) < 0)
		r = err_set(-errno, "cannot rename %s to %s: %s", o->tmp, o->path, strerror(errno));
	if (r == 0)
		o->tmp_named = false; /* it is path now */
	/* closed after the rename: the lock keeps remove_stale away until then */
	if (close(o->fd) < 0 && r == 0)
		r = err_set(-errno, "closing the snapshot for %s: %s", o->path, strerror(errno));
	o->fd = -1;
	if (r == 0)
		r = fsync_dir(o->path);
	snap_out_abort(o);
	return r;
}

void snap_out_abort(struct snap_out *o)
{
	if (o->fd >= 0)
		close(o->fd);
	if (o->tmp && o->tmp_named)
		unlink(o->tmp);
	free(o->tmp);
	free(o->path);
	free(o->buf);
	memset(o, 0, sizeof(*o));
	o->fd = -1;
}
