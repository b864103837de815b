#!/bin/sh
# Runs kvm-unit-tests' x86 entries on hvwb (see docs/kvm-unit-tests.md):
#   bench/kvm_unit_tests.sh [--accel soft|kvm] [--timeout S] [--logs DIR] [entry...]
# KUT_DIR names the suite (default /work/shared/kvm-unit-tests). Builds hvwb first.
set -e
cd "$(dirname "$0")/.."
[ -x build/hvwb ] || make -s build/hvwb
exec build/hvwb --no-startup bench/kvm_unit_tests.lua "$@"
