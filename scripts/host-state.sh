#!/usr/bin/env bash
# Prints the host's firewall rules, links and network namespaces in a form that the test command compares
# before and after a run. What a first run legitimately loads is left out: a netfilter table that the kernel
# made on first use holds only built-in chains with the ACCEPT policy and no rule, and loading a tunnel module
# makes its fallback device (sit0, ip6tnl0, …) once per boot.
set -euo pipefail

rules() {
  # Each rule or chain prefixed with its table; built-in chains left at ACCEPT and the table lines are dropped,
  # so an empty table prints nothing whether or not it is loaded, and any rule, chain or policy still shows.
  "$1" | sed -e 's/\[[0-9]*:[0-9]*\]//' -e '/^#/d' | awk -v family="$2" '
    /^\*/ { table = substr($0, 2); next }
    /^COMMIT/ { next }
    /^:(INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) ACCEPT/ { next }
    { print family, table, $0 }'
}

rules iptables-save ipv4
rules ip6tables-save ipv6
ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' \
  | grep -Ev '^(sit0|ip6tnl0|tunl0|gre0|gretap0|erspan0|ip_vti0|ip6_vti0|ip6gre0)$' | sort || true
ip netns list | sort
