# tap.sh: TAP helpers for shell tests. Source it, then: plan N; ok COND "what"; is GOT WANT "what"
n=0; failed=0
plan() { echo "1..$1"; }
skip_all() { echo "1..0 # SKIP $1"; exit 0; }
ok() { # ok <exit status of a check> "name"
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}
is() { # is "got" "want" "name"
	n=$((n + 1))
	if [ "$1" = "$2" ]; then echo "ok $n - $3"; else
		echo "not ok $n - $3"; failed=$((failed + 1))
		printf '#   got:  %s\n#   want: %s\n' "$1" "$2" | head -20
	fi
}
like() { # like "got" "extended regex" "name"
	n=$((n + 1))
	if printf '%s' "$1" | grep -Eq -- "$2"; then echo "ok $n - $3"; else
		echo "not ok $n - $3"; failed=$((failed + 1))
		printf '#   %s\n#   does not match: %s\n' "$1" "$2" | head -20
	fi
}
done_testing() { [ "$failed" -eq 0 ]; }
HVWB=${HVWB:-$PWD/build/hvwb}
# Whether hvwb can make VMs here (with HVWB_ACCEL's accelerator, if set), as
# hvwb itself sees it; vm_why says why not.
vm_usable() { [ "$("$HVWB" --no-startup -e 'local h = wb.host(); local a = os.getenv("HVWB_ACCEL") or h.accel
	io.write(tostring(a ~= nil and h.accels[a] ~= nil and h.accels[a].usable))' 2>/dev/null)" = true ]; }
vm_why() { "$HVWB" --no-startup -e 'local h = wb.host(); local a = h.accels[os.getenv("HVWB_ACCEL") or ""]
	io.write(tostring(a and a.error or h.error))' 2>/dev/null; }
skip() { n=$((n + 1)); echo "ok $n # skip $1"; } # skip "why"
