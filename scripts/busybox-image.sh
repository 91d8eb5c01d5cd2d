#!/usr/bin/env bash
# Writes a tar of a minimal root filesystem built from Debian's busybox-static, for `cais import`.
# Usage: scripts/busybox-image.sh OUT.tar
set -euo pipefail
out=${1:?usage: $0 OUT.tar}
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "busybox-static is not installed (run scripts/setup.sh)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,home,var/www,proc,sys,dev}
chmod 1777 "$dir/tmp"
cp "$busybox" "$dir/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$dir/bin/$applet"
done
cat > "$dir/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat > "$dir/etc/group" <<'G'
root:x:0:
daemon:x:1:
nogroup:x:65534:
G
echo 'hosts: files dns' > "$dir/etc/nsswitch.conf"
tar --numeric-owner --owner=0 --group=0 -C "$dir" -cf "$out" .
