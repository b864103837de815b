/* The atomic snapshot write, beyond test_snapfile: nothing named appears in
 * the directory while a save is under way (O_TMPFILE), the temp files that
 * killed saves left ("<path>.tmpXXXXXX") are removed by the next save to
 * that path unless a live save holds them (flock) or they are still empty,
 * names that only look alike stay, and a directory is refused before
 * anything is written. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"
#include "engine/state/snapshot.h"
#include "tap.h"

static char dir[] = "/tmp/hvwb-snapout-XXXXXX";

static int files_in(void)
{
	int n = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void make_file(const char *name, size_t size)
{
	char p[300];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	for (size_t i = 0; i < size; i++)
		if (write(fd, "x", 1) != 1)
			break;
	close(fd);
}

static bool exists(const char *name)
{
	char p[300];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return access(p, F_OK) == 0;
}

int main(void)
{
	tap_plan(9);
	if (!mkdtemp(dir)) {
		tap_skip_all("no temp directory");
		return 0;
	}
	char path[300];
	snprintf(path, sizeof(path), "%s/vm.snap", dir);

	struct snap_out o;
	is_int(snap_out_open(&o, path), 0, "a save opens");
	char big[100000];
	memset(big, 'a', sizeof(big));
	snap_out_write(&o, big, sizeof(big));
	snap_out_patch(&o, SNAP_FILE_HEADER, "ABCD", 4);
	is_int(files_in(), o.tmp_named ? 1 : 0, "while it is written the directory holds %s",
	       o.tmp_named ? "its named temp file (no O_TMPFILE here)" : "nothing");
	is_int(snap_out_commit(&o), 0, "it commits");
	is_int(files_in(), 1, "then only the snapshot is there");

	/* leftovers of killed saves, one held by a live save, one just created */
	make_file("vm.snap.tmpAAAAAA", 1000);
	make_file("vm.snap.tmpBBBBBB", 1000);
	make_file("vm.snap.tmpCCCCCC", 0);
	make_file("vm.snap.tmpD", 1000);
	make_file("vm.snap.old", 1000);
	make_file("other.snap.tmpEEEEEE", 1000);
	char held[300];
	snprintf(held, sizeof(held), "%s/vm.snap.tmpBBBBBB", dir);
	int hfd = open(held, O_RDONLY);
	ok(hfd >= 0 && flock(hfd, LOCK_EX) == 0, "a live save holds one of them");
	is_int(snap_out_open(&o, path), 0, "the next save to the path opens");
	snap_out_abort(&o);
	ok(!exists("vm.snap.tmpAAAAAA"), "the stale temp file is gone");
	ok(exists("vm.snap.tmpBBBBBB") && exists("vm.snap.tmpCCCCCC"),
	   "the held one and the empty one stay");
	ok(exists("vm.snap.tmpD") && exists("vm.snap.old") && exists("other.snap.tmpEEEEEE") &&
	   exists("vm.snap"), "other names and the snapshot stay");
	close(hfd);

	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return tap_done();
}
