#!/bin/sh
# evpnd end to end at scale (daemon/examples/blast.rs): one loopback peer sends ROUTES
# EVPN type-2 routes (100 VNIs x 100 VTEPs, packed UPDATEs) as fast as TCP takes them.
#   spine: [fib] enabled = false, RIB only; then FRR's bgpd (-Z, no zebra) fed the same
#          routes the same way, side by side, and the ratios of the two.
#   leaf:  EVPN import into 100 VNIs, inside a throwaway network namespace that holds
#          one bridge + VXLAN device per VNI (root only); the kernel gets programmed too,
#          timed separately (--wait-kernel).
# Usage: scripts/bench-daemon.sh [ROUTES] [spine|leaf|both] [extra blast flags...]
# EVPND=/path/to/evpnd measures another build (A/B against an older commit).
set -eu
cd "$(dirname "$0")/.."
ROUTES=${1:-1000000}
MODE=${2:-both}
[ $# -ge 2 ] && shift 2 || shift $#
cargo build --release -q -p evpnd --bins --example blast
BIN=$PWD/target/release
EVPND=${EVPND:-$BIN/evpnd}
echo "load: $(uptime)"

if [ "$MODE" = spine ] || [ "$MODE" = both ]; then
    [ -x /usr/lib/frr/bgpd ] || { echo "FRR's bgpd is missing: apt-get install frr" >&2; exit 1; }
    OUT=$(mktemp)
    "$BIN/examples/blast" --evpnd "$EVPND" --routes "$ROUTES" --mode spine "$@" | tee "$OUT"
    "$BIN/examples/blast" --daemon frr --routes "$ROUTES" --mode spine "$@" | tee -a "$OUT"
    # "... in the RIB after S s" and "..., B bytes/route;" of each run: FRR / evpnd.
    awk '/in the RIB after/ { for (i = 1; i <= NF; i++) if ($i == "after") t[++n] = $(i + 1) }
         /bytes\/route/ { for (i = 1; i <= NF; i++) if ($i == "bytes/route;") b[++m] = $(i - 1) }
         END { if (n == 2 && m == 2 && t[1] > 0 && b[1] > 0)
                 printf "spine ratio FRR/evpnd: time %.1fx, bytes/route %.1fx\n", t[2] / t[1], b[2] / b[1] }' "$OUT"
    rm -f "$OUT"
fi

if [ "$MODE" = leaf ] || [ "$MODE" = both ]; then
    NS=evb-scale-leaf-$$
    VTEP=10.255.0.1
    trap 'ip netns del "$NS" 2>/dev/null || true' EXIT INT TERM
    ip netns add "$NS"
    {
        echo "link set lo up"
        echo "addr add $VTEP/32 dev lo"
        vni=10000
        while [ $vni -lt 10100 ]; do
            echo "link add br$vni type bridge"
            echo "link add vx$vni type vxlan id $vni local $VTEP dstport 4789 nolearning"
            echo "link set vx$vni master br$vni"
            echo "link set br$vni up"
            echo "link set vx$vni up"
            vni=$((vni + 1))
        done
    } | ip -netns "$NS" -batch -
    ip netns exec "$NS" "$BIN/examples/blast" --evpnd "$EVPND" --routes "$ROUTES" \
        --mode leaf --wait-kernel "$@"
fi
