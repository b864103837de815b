#!/usr/bin/env bash
# Installs Debian's kernel (linux-image-amd64) when no /boot/vmlinuz-* is there,
# for the Linux boot tests (tests/lua/linux_test.lua) and the Linux lab. It never
# fails `make check`: without the kernel those tests skip and say why. The
# package's postinst builds an initramfs with initramfs-tools, which works in a
# container but takes a while; when it fails, dpkg has still unpacked
# /boot/vmlinuz-*, which is all hvwb needs.
set -uo pipefail
ls /boot/vmlinuz-* >/dev/null 2>&1 && exit 0
echo "linux-kernel: installing linux-image-amd64 for the Linux boot tests"
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo -n"; else SUDO=; fi
$SUDO apt-get update -qq >/dev/null 2>&1
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
	linux-image-amd64 >/tmp/hvwb-linux-kernel.log 2>&1 ||
	echo "linux-kernel: apt-get install failed (log in /tmp/hvwb-linux-kernel.log)"
ls /boot/vmlinuz-* >/dev/null 2>&1 || echo "linux-kernel: no kernel in /boot: the Linux tests will skip"
exit 0
