#!/usr/bin/env bash
# samples/mkinitramfs.sh: builds a tiny initramfs for booting Linux in hvwb (the
# Linux lab, samples/labs/linux.lua): Debian's statically linked busybox, the
# directories a system needs, and an /init that mounts proc, sys and dev and
# starts a shell on the serial console ttyS0. Output: a gzip'd cpio archive in
# the "newc" format the kernel unpacks (Documentation/filesystems/
# ramfs-rootfs-initramfs.rst). Installs busybox-static and cpio when missing.
#   samples/mkinitramfs.sh [OUTPUT]   (default samples/build/initramfs.cpio.gz)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-samples/build/initramfs.cpio.gz}
need=()
for p in busybox-static cpio; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	echo "mkinitramfs: installing ${need[*]}"
	if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,root,etc}
cp /bin/busybox "$root/bin/busybox"
# Applets are links the shell finds on PATH; --install would need to run busybox here.
for a in $("$root/bin/busybox" --list); do
	[ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"
done
cat >"$root/init" <<'INIT'
#!/bin/sh
# PID 1 of the hvwb Linux lab: a shell on the serial console, nothing else.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "hvwb initramfs: $(uname -sr), up $(cut -d' ' -f1 /proc/uptime) s"
echo "type commands; 'poweroff -f' ends the VM"
exec setsid cttyhack /bin/sh
INIT
chmod 755 "$root/init"
mkdir -p "$(dirname "$out")"
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet --owner=0:0) | gzip -9 >"$out.tmp"
mv "$out.tmp" "$out"
echo "mkinitramfs: $out ($(stat -c %s "$out") bytes)"
