#!/usr/bin/env bash
# Demo without docker: build evpnlab and evpnd, bring up topologies/2-leaf (evpnd on
# both leaves, FRR route reflector on the spine), ping host1 -> host2 across VXLAN (no
# learning, no multicast: evpnd programmed the kernel), show leaf1's EVPN routes, MACs and
# programmed FDB with evpnctl and the kernel's own view, decode a captured BGP session,
# tear down (always).
#
#   sudo topologies/demo.sh            # lab name 2-leaf-demo; override with EVPNLAB_DEMO_NAME
#
# Needs root, cargo, FRR (zebra, bgpd, vtysh), iproute2 and ping.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
lab_file="$here/2-leaf/2-leaf.clab.yml"
name="${EVPNLAB_DEMO_NAME:-2-leaf-demo}"

if [[ $(id -u) -ne 0 ]]; then
    echo "demo.sh: must run as root (it creates network namespaces and starts FRR)" >&2
    exit 1
fi
for tool in cargo ip vtysh /usr/lib/frr/zebra /usr/lib/frr/bgpd; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "demo.sh: $tool not found (apt-get install frr iproute2 iputils-ping; Rust toolchain)" >&2
        exit 1
    fi
done

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "build evpnlab, evpnd and evpnctl"
(cd "$repo" && cargo build -q -p evpnlab -p evpnd)
evpnlab="$repo/target/debug/evpnlab"
evpnctl="$repo/target/debug/evpnctl"
export EVPND_BIN="$repo/target/debug/evpnd"
# evpnlab gives each evpnd node its own control socket under the lab's run directory.
ctl1() { "$evpnctl" --socket "/run/evpnlab/$name/nodes/leaf1/evpnd.sock" "$@"; }
capdir="$(mktemp -d)"
lab() { "$evpnlab" --name "$name" "$@"; }

cleanup() {
    step "tear down"
    [[ -s "$capdir/tcpdump.pid" ]] && kill "$(cat "$capdir/tcpdump.pid")" 2>/dev/null || true
    lab down "$lab_file" || true
    rm -rf "$capdir"
}
trap cleanup EXIT

step "bring up 2-leaf as lab '$name'"
lab up "$lab_file"
lab wait "$lab_file" --bgp-established --timeout 30
lab status "$lab_file"

step "capture BGP on spine1's link to leaf1, and reset leaf1's session (evpnctl clear peer) so the capture sees it start"
ip netns exec "clab-$name-spine1" sh -c \
    "echo \$\$ > '$capdir/tcpdump.pid'; exec tcpdump -q -U -s 0 -i eth1 -w '$capdir/bgp.pcap' tcp port 179" 2>/dev/null &
sleep 1
ctl1 clear peer 10.1.1.0
sleep 1
lab wait "$lab_file" --bgp-established --timeout 30

step "ping host1 (10.100.0.1, veth) -> host2 (10.100.0.2, macvlan) across VXLAN"
# The very first packet can race the EVPN type-3 routes; give it a few tries.
for _ in 1 2 3 4 5 6 7 8 9 10; do
    if lab exec "$lab_file" host1 -- ping -c 1 -W 1 10.100.0.2 >/dev/null; then break; fi
done
lab exec "$lab_file" host1 -- ping -c 3 -i 0.2 10.100.0.2

step "BGP peers and EVPN routes on leaf1 (evpnctl show peers / show routes)"
ctl1 show peers
ctl1 show routes

step "EVPN instances and MACs on leaf1 (evpnctl show vni / show macs)"
ctl1 show vni
ctl1 show macs

step "what evpnd programmed in leaf1's kernel (evpnctl show fdb), and the kernel's view (bridge fdb show dev vxlan100)"
ctl1 show fdb
lab exec "$lab_file" leaf1 -- bridge fdb show dev vxlan100

step "the captured BGP session, decoded by evpnctl (one line per message; drop --brief for every field)"
sleep 1
kill "$(cat "$capdir/tcpdump.pid")" 2>/dev/null || true
sleep 0.5
"$evpnctl" decode --brief --pcap "$capdir/bgp.pcap"
