# vm:save is atomic: an hvwb killed with SIGKILL at a random moment while it
# saves a large VM again and again leaves a file that another hvwb loads whole,
# holding one complete generation of the VM's memory (never a mix of two), and
# no temp file: the snapshot is written unnamed (O_TMPFILE) until complete.
# Where a killed save did leave "<path>.tmpXXXXXX" (a file system without
# O_TMPFILE, or an older hvwb), the next save to that path removes it. A save
# to a directory fails before writing anything.
. tests/sh/tap.sh
vm_usable || skip_all "no VM can be made here: $(vm_why)"
ROUNDS=3
plan $((ROUNDS * 3 + 4))
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# Each generation g writes "gen=g" at the start of each of 24 MiB and then saves.
cat >"$dir/saver.lua" <<'EOF'
local path = arg[1]
local vm = assert(wb.vm{ name = "big", mem = "256M" })
local chunk = string.rep("\1", 1024 * 1024 - 16)
for g = 0, 1e9 do
  for mib = 0, 23 do vm:write(mib * 1048576, ("gen=%-11d"):format(g) .. chunk) end
  assert(vm:save(path))
  if g == 0 then print("ready"); io.stdout:flush() end
end
EOF
cat >"$dir/check.lua" <<'EOF'
local vm, err = wb.load(arg[1])
if not vm then print("load failed: " .. tostring(err)) os.exit(1) end
local gen = vm:read(0, 15)
for mib = 1, 23 do
  if vm:read(mib * 1048576, 15) ~= gen then print("mixed generations") os.exit(1) end
end
print("whole " .. gen:gsub("%s+$", ""))
EOF

for round in $(seq 1 $ROUNDS); do
	path="$dir/vm.snap"
	rm -f "$path"
	"$HVWB" --no-startup "$dir/saver.lua" "$path" >"$dir/out" 2>&1 &
	pid=$!
	# The first save may take long on a busy machine: wait up to a minute.
	for _ in $(seq 1 6000); do grep -q ready "$dir/out" && break; sleep 0.01; done
	# A random moment in the next 0.05 to 0.35 s: several saves are under way by then.
	sleep "0.$(printf '%02d' $((RANDOM % 30 + 5)))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	is "$(grep -c ready "$dir/out")" 1 "round $round: the saver had written its first file before the kill"
	out=$("$HVWB" --no-startup "$dir/check.lua" "$path" 2>&1)
	like "$out" "^whole gen=[0-9]+$" "round $round: the file left by kill -9 loads whole ($out)"
	leftovers=$(ls "$dir" | grep -c 'vm.snap.tmp' || true)
	is "$leftovers" 0 "round $round: no temp file is left by the kill"
	rm -f "$dir"/vm.snap.tmp*
done

# A temp file of an earlier, killed save (as the fallback without O_TMPFILE
# leaves them) goes with the next save to the same path; other names stay.
head -c 100000 /dev/zero >"$dir/vm.snap.tmpAb3xYz"
head -c 100000 /dev/zero >"$dir/vm.snap.tmp-keep-me"
out=$("$HVWB" --no-startup -e 'local vm = assert(wb.vm{ name = "s", mem = "2M" })
assert(vm:save("'"$dir/vm.snap"'")) print("saved")' 2>&1)
like "$out" saved "a save next to a stale temp file succeeds"
ok $([ ! -e "$dir/vm.snap.tmpAb3xYz" ] && [ -e "$dir/vm.snap.tmp-keep-me" ]; echo $?) \
	"it removed the stale temp file and nothing else"
# vm:save to a directory: refused up front, nothing written, the directory alone.
mkdir "$dir/adir"
out=$("$HVWB" --no-startup -e 'local vm = assert(wb.vm{ name = "d", mem = "64M" })
local ok, err = vm:save("'"$dir/adir"'") print(ok, err)' 2>&1)
like "$out" 'is a directory' "vm:save(dir) fails saying the target is a directory ($out)"
is "$(ls -A "$dir" | grep -v -e '^vm.snap$' -e '^adir$' -e tmp-keep-me -e '^out$' -e '\.lua$' | tr '\n' ' ')$(ls -A "$dir/adir")" "" \
	"and leaves no file behind"
done_testing
