#!/usr/bin/env bash
# Readies the kernel's cgroups for crun; run before caisd starts (setup.sh does, and cais.service's ExecStartPre).
# Safe to run again: each step checks first. Needs root.
set -euo pipefail

# crun 1.8 refuses hybrid cgroups while the cgroup2 mount still lists a controller; on Debian 12 hosts in hybrid
# mode that is hugetlb. Giving each such controller its own v1 hierarchy empties the list.
unified=/sys/fs/cgroup/unified/cgroup.controllers
if [ -f "$unified" ] && [ -n "$(cat "$unified")" ]; then
  for c in $(cat "$unified"); do
    mkdir -p "/sys/fs/cgroup/$c"
    mountpoint -q "/sys/fs/cgroup/$c" || mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c"
  done
fi

# Moving a process into a cgroup (crun does it at every container start and exec) waits for an RCU grace
# period, about 8 ms here, unless a cgroup hierarchy favours dynamic modifications (Linux 6.0 and later; the
# cost moves to fork and exit, a few nanoseconds). The cgroup2 mount takes the flag by remount.
for m in /sys/fs/cgroup/unified /sys/fs/cgroup; do
  if [ "$(stat -f -c %T "$m" 2>/dev/null)" = cgroup2fs ]; then
    grep -qs " $m cgroup2 .*favordynmods" /proc/mounts || mount -o remount,favordynmods "$m" 2>/dev/null || true
    break
  fi
done
