# The libFuzzer targets of fuzz/ (issue 17): each is built with clang (ASan and
# UBSan), run once over its seed corpus, then fuzzed for a short, bounded time
# (FUZZ_TEST_SECONDS, 12 s by default) on a scratch copy of the seeds. A crash,
# a leak, a timeout (a single input over 5 s) or an out-of-memory (1 GiB RSS, or one
# allocation over 2 GiB) is a
# failure; its input is kept in build-fuzz/crashes/<target>/ and the top of the
# sanitizer's report is shown. Longer runs: make fuzz (fuzz/README.md).
# The targets use neither hvwb nor an accelerator, so they run once per
# tests/run: in the pass of the plain build on the soft accelerator.
. tests/sh/tap.sh
FUZZ_CC=${FUZZ_CC:-clang}
command -v "$FUZZ_CC" >/dev/null || skip_all "$FUZZ_CC not installed (scripts/deps.sh installs clang)"
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; return (int)(n & 0); }\n' |
	"$FUZZ_CC" -fsanitize=fuzzer -x c - -o /dev/null 2>/dev/null ||
	skip_all "$FUZZ_CC cannot link libFuzzer (its runtime: libclang-rt-dev)"
[ "${HVWB_ACCEL:-soft}" = soft ] || skip_all "the fuzz targets use no accelerator: they run in the soft pass only"
case "${HVWB:-}" in
*/build-asan/*|*/build-tsan/*) skip_all "the fuzz targets are their own sanitizer build: they run in the pass of build/" ;;
esac
secs=${FUZZ_TEST_SECONDS:-12}
# RSS 1 GiB; one allocation may reach 2 GiB: hvwb sizes a vmlinux buffer from
# the xz payload's trailer, by design up to 1 GiB (VMLINUX_MAX), untouched
# until the decoder writes it.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
limits="-timeout=5 -rss_limit_mb=1024 -malloc_limit_mb=2048"
targets=$(cd fuzz && ls fuzz_*.c | sed 's/\.c$//')
ntargets=$(echo "$targets" | wc -w)
plan $((1 + 2 * ntargets))
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

make --no-print-directory -s -j"$(nproc)" FUZZ_CC="$FUZZ_CC" fuzz-build >"$dir/build.log" 2>&1
st=$?
ok $st "the fuzz targets build with $FUZZ_CC"
[ $st -eq 0 ] || sed 's/^/#   /' "$dir/build.log" | grep -v '^#   clang ' | tail -20

# report LOG: the sanitizer's or libFuzzer's verdict and the first stack
# frames in hvwb's sources, as TAP comments.
report() {
	grep -E -m1 'ERROR: |runtime error|WARNING: .*Sanitizer|deadly signal' "$1" | sed 's/^/#   /'
	grep -E '^ *#[0-9]+ .* in .*(engine|devices|util|fuzz)/[^ ]*\.c' "$1" | head -8 |
		sed 's/ (BuildId: [0-9a-f]*)//; s/^ */#     /'
	grep -m1 '^SUMMARY' "$1" | sed 's/^/#   /'
}

for t in $targets; do
	bin=build-fuzz/fuzz/$t
	if [ ! -x "$bin" ]; then
		ok 1 "$t: seed corpus"; ok 1 "$t: ${secs} s of fuzzing"
		continue
	fi
	# 1. every seed once (files, not the directory: nothing is written into fuzz/corpus)
	seeds=(fuzz/corpus/"$t"/*)
	[ -e "${seeds[0]}" ] || seeds=()
	timeout 120 "$bin" $limits -artifact_prefix="$dir/art-$t-" \
		"${seeds[@]}" >"$dir/$t-seeds.log" 2>&1
	st=$?
	ok $st "$t: seed corpus (${#seeds[@]} inputs)"
	[ $st -eq 0 ] || report "$dir/$t-seeds.log"
	# 2. fuzzing on a scratch copy of the seeds
	mkdir -p "$dir/corpus-$t"
	[ ${#seeds[@]} -gt 0 ] && cp "${seeds[@]}" "$dir/corpus-$t/"
	timeout $((secs + 60)) "$bin" -max_total_time="$secs" $limits \
		-print_final_stats=1 -artifact_prefix="$dir/art-$t-" "$dir/corpus-$t" >"$dir/$t.log" 2>&1
	st=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/$t.log")
	ok $st "$t: ${secs} s of fuzzing (${runs:-?} runs)"
	if [ $st -ne 0 ]; then
		report "$dir/$t.log"
		mkdir -p "build-fuzz/crashes/$t"
		for a in "$dir/art-$t-"*; do
			[ -e "$a" ] && cp "$a" "build-fuzz/crashes/$t/${a##*/art-$t-}" &&
				echo "#   input kept as build-fuzz/crashes/$t/${a##*/art-$t-}"
		done
	fi
done
done_testing
