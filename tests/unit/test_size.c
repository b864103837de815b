/* test_size: VM memory sizes as users write them ("64M", "2G", bytes). */
#include "util/err.h"
#include "engine/core/vm.h"
#include "tap.h"

static void good(const char *text, uint64_t want)
{
	uint64_t got = 0;
	int r = vm_parse_size(text, &got);
	ok(r == 0 && got == want, "'%s' is %llu bytes (got %llu, r=%d)", text,
	   (unsigned long long)want, (unsigned long long)got, r);
}

static void bad(const char *text, const char *why)
{
	uint64_t got = 12345;
	int r = vm_parse_size(text, &got);
	ok(r < 0 && got == 12345 && strstr(err_msg(), why), "'%s' is refused: %s", text, err_msg());
}

int main(void)
{
	tap_plan(16);
	good("64M", 64ull << 20);
	good("2G", 2ull << 30);
	good("1g", 1ull << 30);
	good("1048576", 1048576);
	good("16MiB", 16ull << 20);
	good("3MB", 3ull << 20);
	good("1T", 1ull << 40);
	bad("", "not a number");
	bad("M", "not a number");
	bad("-64M", "not a number");
	bad("64X", "not a number");
	bad("64M extra", "not a number");
	bad("512K", "too small");
	bad("1048577", "multiple of 4K");
	bad("99999999999999999999", "not a number");
	bad("100000T", "not a number");
	return tap_done();
}
