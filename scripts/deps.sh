#!/usr/bin/env bash
# Installs the Debian packages hvwb needs that are not installed yet.
# Quick when nothing is missing: it asks dpkg first and apt only if needed.
set -euo pipefail
need=(build-essential pkg-config linux-libc-dev libncurses-dev libreadline-dev
      libelf-dev liblua5.4-dev libcapstone-dev lua5.4 tmux gdb qemu-system-x86
      binutils perl xz-utils liblzma-dev busybox-static cpio
      clang libclang-rt-dev)   # clang and its libFuzzer runtime: fuzz/ (make fuzz)
missing=()
for p in "${need[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
