#!/usr/bin/env bash
# Removes what install.sh installed: the units (stopped and disabled first), PREFIX/bin/cais and caisd, PREFIX/lib/cais
# and SYSCONFDIR/cais. The store (/var/lib/cais, or --data-root) and the cais group stay unless --purge is given;
# a running caisd must be stopped first, and --purge refuses while containers are running.
#
#   scripts/uninstall.sh [--prefix DIR] [--sysconfdir DIR] [--unitdir DIR] [--data-root DIR] [--purge] [--no-group]
set -euo pipefail

prefix=/usr/local sysconfdir=/etc unitdir=/etc/systemd/system data_root=/var/lib/cais purge=0 remove_group=1
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) prefix=$2; shift 2 ;;
    --sysconfdir) sysconfdir=$2; shift 2 ;;
    --unitdir) unitdir=$2; shift 2 ;;
    --data-root) data_root=$2; shift 2 ;;
    --purge) purge=1; shift ;;
    --no-group) remove_group=0; shift ;;
    -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "uninstall.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

if [ -d /run/systemd/system ] && [ -e "$unitdir/cais.service" ]; then
  systemctl disable --now cais.socket cais.service >/dev/null 2>&1 || true
fi
rm -f "$unitdir/cais.service" "$unitdir/cais.socket"
[ -d /run/systemd/system ] && systemctl daemon-reload || true

for b in cais caisd; do
  if [ -L "$prefix/bin/$b" ] && [ "$(readlink "$prefix/bin/$b")" = "$prefix/lib/cais/bin/$b" ]; then rm -f "$prefix/bin/$b"; fi
done
rm -rf "$prefix/lib/cais" "$prefix/lib/cais.new" "$prefix/lib/cais.old"
rm -rf "$sysconfdir/cais"

if [ "$purge" = 1 ]; then
  if [ -d "$data_root/containers" ] && grep -qs "$data_root" /proc/mounts; then
    echo "uninstall.sh: $data_root still has mounts (running containers?): stop them, then run again with --purge" >&2
    exit 1
  fi
  rm -rf "$data_root"
  if [ "$remove_group" = 1 ] && getent group cais >/dev/null; then groupdel cais 2>/dev/null || true; fi
  echo "uninstall.sh: removed cais and its store $data_root"
else
  echo "uninstall.sh: removed cais; its store $data_root is kept (--purge removes it)"
fi
