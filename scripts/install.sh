#!/usr/bin/env bash
# Installs cais for the whole machine, as root, from this checkout: the runtime packages, the code with its own
# Node 24 under PREFIX/lib/cais, cais and caisd in PREFIX/bin, the cais group, SYSCONFDIR/cais/daemon.json (kept
# when it exists) and the systemd units cais.service and cais.socket. Safe to run again; a new version replaces
# the old one whole, and containers keep running across it (restart the unit to run the new caisd).
#
#   scripts/install.sh [--prefix DIR] [--sysconfdir DIR] [--unitdir DIR] [--no-group] [--no-enable]
#
# Defaults: --prefix /usr/local, --sysconfdir /etc, --unitdir /etc/systemd/system. --no-group leaves the groups
# alone; --no-enable does not touch systemd (it is skipped anyway where systemd is not running).
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=/usr/local sysconfdir=/etc unitdir=/etc/systemd/system make_group=1 enable=1
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) prefix=$2; shift 2 ;;
    --sysconfdir) sysconfdir=$2; shift 2 ;;
    --unitdir) unitdir=$2; shift 2 ;;
    --no-group) make_group=0; shift ;;
    --no-enable) enable=0; shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
case $prefix in /*) ;; *) echo "install.sh: --prefix must be an absolute path" >&2; exit 2 ;; esac
libdir=$prefix/lib/cais
bindir=$prefix/bin

# Runtime packages, npm dependencies, the CLI bundle and the dashboard's page: what a checkout needs to run.
bash scripts/setup.sh --runtime

# The new tree is made beside the old one and swapped in, so a failure halfway leaves the old install whole.
stage=$libdir.new
rm -rf "$stage"
mkdir -p "$stage/scripts" "$stage/node_modules/.cache"
tar -cf - --exclude='*.test.ts' --exclude='src/dashboard/web' --exclude='dist/js' bin src dist package.json package-lock.json README.md | tar -xf - -C "$stage"
cp -p scripts/prepare-host.sh scripts/uninstall.sh "$stage/scripts/"
# Production dependencies only, as npm lists them (Node 24 among them), and the CLI's bundle.
npm ls --omit=dev --all --parseable 2>/dev/null | sed "s|^$PWD/||" | grep '^node_modules/' | tar -cf - -T - | tar -xf - -C "$stage"
[ -f node_modules/.cache/cais-cli/cais.cjs ] && cp -pr node_modules/.cache/cais-cli "$stage/node_modules/.cache/"
"$stage/bin/caisd" --help >/dev/null
if [ -e "$libdir" ]; then
  rm -rf "$libdir.old"
  mv "$libdir" "$libdir.old"
fi
mv "$stage" "$libdir"
rm -rf "$libdir.old"

mkdir -p "$bindir"
for b in cais caisd; do ln -sfn "$libdir/bin/$b" "$bindir/$b"; done

# The socket's group: its members can drive the daemon, which is root on this machine.
if [ "$make_group" = 1 ] && ! getent group cais >/dev/null; then groupadd --system cais; fi

mkdir -p "$sysconfdir/cais"
chmod 0755 "$sysconfdir/cais"
[ -e "$sysconfdir/cais/daemon.json" ] || install -m 0644 packaging/daemon.json "$sysconfdir/cais/daemon.json"

mkdir -p "$unitdir"
for unit in cais.service cais.socket; do
  sed -e "s|@LIBDIR@|$libdir|g" -e "s|@BINDIR@|$bindir|g" -e "s|@SYSCONFDIR@|$sysconfdir|g" "packaging/$unit" > "$unitdir/$unit.tmp"
  chmod 0644 "$unitdir/$unit.tmp"
  mv "$unitdir/$unit.tmp" "$unitdir/$unit"
done

if [ "$enable" = 1 ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable --now cais.socket
  systemctl enable cais.service
  echo "install.sh: cais.socket is listening; caisd starts at the first connection (or: systemctl start cais)"
elif [ "$enable" = 1 ]; then
  echo "install.sh: systemd is not running here: start the daemon with $bindir/caisd (or enable the units under systemd)"
fi
echo "install.sh: installed in $libdir; settings in $sysconfdir/cais/daemon.json"
