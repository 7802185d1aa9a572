#!/usr/bin/env bash
# Reproduce the golden BGP-EVPN captures in tests/golden/ from scratch.
#
# Needs (Debian 12): frr (8.4), gobgpd (3.10), tcpdump, iproute2, iputils-ping; run as root.
# Everything runs in network namespaces named evt-cap-*; all of them and every daemon started
# here are removed on exit, also on failure.
#
# Usage: tests/golden/capture.sh [SCENARIO...]
#   scenarios: ibgp (frr-leaf-ibgp.pcap + route-refresh.pcap), ebgp (frr-ebgp.pcap),
#              gobgp (gobgp-evpn.pcap); default: all of them.
# Output directory: $OUT (default: the directory of this script).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$HERE}
RUN=$(mktemp -d /tmp/evt-cap.XXXXXX)
chmod 755 "$RUN"
P=evt-cap-
CREATED_NS=()

log() { printf '%s [capture] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for tool in ip tcpdump vtysh gobgpd gobgp ping unshare; do
    command -v "$tool" >/dev/null || die "missing tool: $tool (apt-get install frr gobgpd tcpdump iproute2 iputils-ping)"
done
[[ -x /usr/lib/frr/zebra && -x /usr/lib/frr/bgpd ]] || die "missing /usr/lib/frr/{zebra,bgpd} (apt-get install frr)"
[[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces)"

# Stop every process whose pid file lies under $RUN (daemons and tcpdumps started here).
stop_all() {
    local f pid
    for f in $(find "$RUN" -name '*.pid' 2>/dev/null); do
        pid=$(cat "$f" 2>/dev/null || true)
        [[ -n $pid ]] && kill "$pid" 2>/dev/null || true
        rm -f "$f"
    done
    sleep 0.5
}

cleanup() {
    local rc=$?
    stop_all
    local ns
    for ns in "${CREATED_NS[@]}"; do
        ip netns del "$ns" 2>/dev/null || true
    done
    if [[ $rc -ne 0 ]]; then
        log "failed (rc=$rc); logs kept in $RUN"
    else
        rm -rf "$RUN"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ns_add() {
    local ns=$P$1
    ip netns del "$ns" 2>/dev/null || true
    ip netns add "$ns"
    CREATED_NS+=("$ns")
    ip -n "$ns" link set lo up
    # No IPv6 link-local addresses anywhere: keeps the captures free of fe80:: MAC+IP routes.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.addr_gen_mode=1
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.addr_gen_mode=1
}

# veth NS_A IF_A MAC_A NS_B IF_B MAC_B
# gso_max_segs 1: no GSO super-packets, so tcpdump sees the TCP segments a real wire would carry.
veth() {
    ip link add name "$2" address "$3" gso_max_segs 1 netns "$P$1" \
        type veth peer name "$5" address "$6" gso_max_segs 1 netns "$P$4"
}

# in_ns NS HOSTNAME CMD...: run CMD in namespace NS with its own UTS namespace, so the
# hostname/domain that FRR and GoBGP put in the FQDN capability do not depend on this machine.
in_ns() {
    local ns=$P$1 host=$2
    shift 2
    ip netns exec "$ns" unshare --uts sh -c \
        'echo "$0" >/proc/sys/kernel/hostname; echo "(none)" >/proc/sys/kernel/domainname; exec "$@"' \
        "$host" "$@"
}

# frr_start NODE NS: zebra + bgpd with configs $RUN/NODE/{zebra,bgpd}.conf
frr_start() {
    local node=$1 d=$RUN/$1
    for daemon in zebra bgpd; do
        in_ns "$2" "$node" "/usr/lib/frr/$daemon" -d -u root -g frrvty -P 0 \
            -f "$d/$daemon.conf" -i "$d/$daemon.pid" -z "$d/zserv.api" --vty_socket "$d" \
            --log "file:$d/$daemon.log" 2>>"$d/start.err"
        # bgpd must find zebra's socket; bgpd's vty must exist before we query it.
        local i
        for i in $(seq 50); do
            [[ -S $d/$daemon.vty ]] && break
            sleep 0.1
        done
        [[ -S $d/$daemon.vty ]] || die "$node: $daemon did not start (see $d)"
    done
}

vty() {
    local node=$1
    shift
    local args=()
    local c
    for c in "$@"; do args+=(-c "$c"); done
    vtysh --vty_socket "$RUN/$node" "${args[@]}"
}

# wait_established NODE PEER_IP
wait_established() {
    local i
    for i in $(seq 150); do
        if vty "$1" "show bgp neighbors $2 json" 2>/dev/null | grep -q '"bgpState":"Established"'; then
            return 0
        fi
        sleep 0.2
    done
    die "$1: session to $2 not Established"
}

# cap_start NAME NS IFACE FILE
cap_start() {
    local name=$1 ns=$P$2 ifc=$3 file=$4
    rm -f "$file"
    ip netns exec "$ns" sh -c 'echo $$ >"$0"; exec tcpdump -Z root -i "$1" -s 0 -U -n -w "$2" tcp port 179' \
        "$RUN/cap-$name.pid" "$ifc" "$file" 2>"$RUN/cap-$name.err" &
    local i
    for i in $(seq 50); do
        grep -q 'listening on' "$RUN/cap-$name.err" 2>/dev/null && return 0
        sleep 0.1
    done
    die "tcpdump $name did not start: $(cat "$RUN/cap-$name.err")"
}

cap_stop() {
    local name=$1 pid
    sleep 0.3
    pid=$(cat "$RUN/cap-$name.pid")
    kill -INT "$pid"
    local i
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    rm -f "$RUN/cap-$name.pid"
    log "capture $name: $(grep -h 'packets captured' "$RUN/cap-$name.err" || true)"
}

teardown() {
    stop_all
    local ns
    for ns in "${CREATED_NS[@]}"; do
        ip netns del "$ns" 2>/dev/null || true
    done
    CREATED_NS=()
}

# ---------------------------------------------------------------------------------------------
# Fabric: spine "sp" and leaves "l1", "l2"; a host "h1"/"h2" behind each leaf in VNI 100.
#
#   h1 (10.1.1.1, fd00:1::1, 02:00:00:01:01:01) -- l1 [VTEP 10.0.0.1] -- 10.255.1.0/31 -- sp
#   h2 (10.1.1.2, fd00:1::2, 02:00:00:02:01:01) -- l2 [VTEP 10.0.0.2] -- 10.255.2.0/31 -- sp
#
# Spine: 10.255.N.0, router-id 10.0.0.254. Leaf N: 10.255.N.1, router-id/VTEP 10.0.0.N,
# SVI br100 10.1.1.25N/24 and fd00:1::fN/64.
# MACs: 02:00:00:<node>:<if>:<port> with node 00=spine, 0N=leaf N, N1=host N.
# ---------------------------------------------------------------------------------------------
build_fabric() {
    # Optional MTU for the captured link sp-l1/l1-sp: a small one makes TCP split BGP messages
    # across segments, so the pcap exercises reassembly in pcap readers.
    local mtu1=${1:-1500} n
    for n in sp l1 l2 h1 h2; do ns_add "$n"; done
    ip netns exec "${P}sp" sysctl -qw net.ipv4.ip_forward=1
    ip -n "${P}sp" addr add 10.0.0.254/32 dev lo
    for n in 1 2; do
        local l=l$n h=h$n
        veth sp "sp-l$n" "02:00:00:00:0$n:00" "$l" "$l-sp" "02:00:00:0$n:00:01"
        ip -n "${P}sp" addr add "10.255.$n.0/31" dev "sp-l$n"
        if [[ $n == 1 ]]; then
            ip -n "${P}sp" link set "sp-l$n" mtu "$mtu1"
            ip -n "${P}l1" link set l1-sp mtu "$mtu1"
        fi
        ip -n "${P}sp" link set "sp-l$n" up
        ip -n "${P}sp" route add "10.0.0.$n/32" via "10.255.$n.1"

        ip -n "$P$l" addr add "10.0.0.$n/32" dev lo
        ip -n "$P$l" addr add "10.255.$n.1/31" dev "$l-sp"
        ip -n "$P$l" link set "$l-sp" up
        ip -n "$P$l" route add 10.0.0.0/24 via "10.255.$n.0"

        # Overlay: bridge + VXLAN VNI 100 (no data-plane learning) + host port.
        ip -n "$P$l" link add name br100 address "02:00:00:0$n:01:00" type bridge
        ip -n "$P$l" link add name vxlan100 address "02:00:00:0$n:02:00" type vxlan id 100 \
            local "10.0.0.$n" dstport 4789 nolearning
        ip -n "$P$l" link set vxlan100 master br100
        ip netns exec "$P$l" bridge link set dev vxlan100 learning off
        veth "$l" "$l-h$n" "02:00:00:0$n:03:00" "$h" eth0 "02:00:00:0$n:01:01"
        ip -n "$P$l" link set "$l-h$n" master br100
        ip -n "$P$l" addr add "10.1.1.25$n/24" dev br100
        ip -n "$P$l" addr add "fd00:1::f$n/64" dev br100 nodad
        ip -n "$P$l" link set vxlan100 up
        ip -n "$P$l" link set "$l-h$n" up
        ip -n "$P$l" link set br100 up

        ip -n "$P$h" addr add "10.1.1.$n/24" dev eth0
        ip -n "$P$h" addr add "fd00:1::$n/64" dev eth0 nodad
        ip -n "$P$h" link set eth0 up
    done
}

# write_frr NODE HOSTNAME BGPD_CONFIG_BODY
write_frr() {
    local d=$RUN/$1
    mkdir -p "$d"
    chmod 777 "$d"
    printf 'hostname %s\n' "$2" >"$d/zebra.conf"
    printf 'hostname %s\n!\n%s\n' "$2" "$3" >"$d/bgpd.conf"
}

config_fabric() {
    local mode=$1 n
    local sp_as=65000
    local spine="router bgp $sp_as
 bgp router-id 10.0.0.254
 no bgp default ipv4-unicast
 no bgp ebgp-requires-policy
 coalesce-time 100"
    local spine_af=" address-family l2vpn evpn"
    for n in 1 2; do
        local leaf_as=65000
        [[ $mode == ebgp ]] && leaf_as=6500$n
        # The spine never connects itself: one TCP connection per session, no collisions.
        spine+="
 neighbor 10.255.$n.1 remote-as $leaf_as
 neighbor 10.255.$n.1 passive"
        spine_af+="
  neighbor 10.255.$n.1 activate"
        [[ $mode == ibgp ]] && spine_af+="
  neighbor 10.255.$n.1 route-reflector-client"
        write_frr "l$n" "leaf$n" "router bgp $leaf_as
 bgp router-id 10.0.0.$n
 no bgp default ipv4-unicast
 no bgp ebgp-requires-policy
 coalesce-time 100
 neighbor 10.255.$n.0 remote-as $sp_as
 neighbor 10.255.$n.0 timers connect 2
 address-family l2vpn evpn
  neighbor 10.255.$n.0 activate
  advertise-all-vni
 exit-address-family"
    done
    write_frr sp spine "$spine
$spine_af
 exit-address-family"
}

start_fabric() {
    frr_start sp sp
    frr_start l1 l1
    frr_start l2 l2
    wait_established l1 10.255.1.0
    wait_established l2 10.255.2.0
    log "fabric sessions Established"
}

# Let FRR see the hosts: a ping from the leaf's SVI makes the bridge learn the host MAC
# (type-2 MAC only) and fills the SVI's neighbour table (type-2 MAC+IP).
ping_host() {
    local n=$1 fam=${2:-4}
    ip netns exec "${P}l$n" ping "-$fam" -c 1 -W 1 -q "$([[ $fam == 4 ]] && echo "10.1.1.$n" || echo "fd00:1::$n")" >/dev/null
}

scenario_ibgp() {
    log "scenario ibgp: FRR RR spine + 2 FRR leaves, capture on sp-l1 (MTU 200)"
    build_fabric 200
    config_fabric ibgp
    cap_start ibgp sp sp-l1 "$OUT/frr-leaf-ibgp.pcap"
    start_fabric
    sleep 2 # type-3 routes, their reflections, End-of-RIB
    ping_host 1 4
    sleep 1
    ping_host 2 4
    sleep 1
    ping_host 1 6
    sleep 2
    # Withdraw: host port down flushes its FDB entries, FRR withdraws MAC and MAC+IP routes.
    ip -n "${P}l1" link set l1-h1 down
    sleep 2
    vty l1 'show bgp l2vpn evpn' >"$RUN/l1-evpn.txt"
    cap_stop ibgp

    log "scenario route-refresh: same fabric, capture on sp-l1"
    cap_start rr sp sp-l1 "$OUT/route-refresh.pcap"
    sleep 0.5
    vty l1 'clear bgp l2vpn evpn 10.255.1.0 soft in'
    sleep 2
    vty l1 'configure terminal' 'router bgp 65000' \
        'neighbor 10.255.1.0 shutdown message evpnd-golden'
    sleep 1
    cap_stop rr
    teardown
}

scenario_ebgp() {
    log "scenario ebgp: FRR spine AS 65000, leaves 65001/65002, capture on sp-l1"
    build_fabric
    config_fabric ebgp
    cap_start ebgp sp sp-l1 "$OUT/frr-ebgp.pcap"
    start_fabric
    sleep 2
    ping_host 1 4
    sleep 2
    cap_stop ebgp
    teardown
}

# GoBGP (AS 65000, router-id 10.0.0.9, 10.255.9.0) <-iBGP-> FRR (10.0.0.8, 10.255.9.1).
scenario_gobgp() {
    log "scenario gobgp: gobgpd <-> FRR bgpd over a veth, capture on gb-fr"
    ns_add gb
    ns_add fr
    veth gb gb-fr 02:00:00:09:00:00 fr fr-gb 02:00:00:08:00:00
    ip -n "${P}gb" addr add 10.255.9.0/31 dev gb-fr
    ip -n "${P}gb" link set gb-fr up
    ip -n "${P}fr" addr add 10.255.9.1/31 dev fr-gb
    ip -n "${P}fr" link set fr-gb up
    ip -n "${P}fr" route add 10.0.0.9/32 via 10.255.9.0

    local d=$RUN/gb
    mkdir -p "$d"
    cat >"$d/gobgpd.toml" <<'EOF'
[global.config]
  as = 65000
  router-id = "10.0.0.9"
  local-address-list = ["10.255.9.0"]

[[neighbors]]
  [neighbors.config]
    neighbor-address = "10.255.9.1"
    peer-as = 65000
  [neighbors.transport.config]
    passive-mode = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "l2vpn-evpn"
EOF
    write_frr fr frr "router bgp 65000
 bgp router-id 10.0.0.8
 no bgp default ipv4-unicast
 coalesce-time 100
 neighbor 10.255.9.0 remote-as 65000
 neighbor 10.255.9.0 timers connect 2
 address-family l2vpn evpn
  neighbor 10.255.9.0 activate
 exit-address-family"

    cap_start gobgp gb gb-fr "$OUT/gobgp-evpn.pcap"
    in_ns gb gobgp sh -c 'echo $$ >"$0"; exec gobgpd -f "$1" -p --pprof-disable --api-hosts 127.0.0.1:50071' \
        "$d/gobgpd.pid" "$d/gobgpd.toml" >"$d/gobgpd.log" 2>&1 &
    local i
    for i in $(seq 50); do
        ip netns exec "${P}gb" gobgp -p 50071 global >/dev/null 2>&1 && break
        sleep 0.2
    done
    frr_start fr fr
    wait_established fr 10.255.9.0
    log "gobgp session Established"
    sleep 1

    local g=(ip netns exec "${P}gb" gobgp -p 50071 global rib -a evpn)
    local common=(etag 0 label 100 rd 10.0.0.9:100 rt 65000:100 encap vxlan nexthop 10.0.0.9)
    "${g[@]}" add macadv 02:00:00:09:01:01 0.0.0.0 "${common[@]}"
    sleep 1
    "${g[@]}" add macadv 02:00:00:09:01:01 10.1.1.9 "${common[@]}"
    sleep 1
    "${g[@]}" add macadv 02:00:00:09:01:01 fd00:1::9 "${common[@]}"
    sleep 1
    "${g[@]}" add multicast 10.0.0.9 etag 0 rd 10.0.0.9:100 rt 65000:100 encap vxlan \
        pmsi ingress-repl 100 10.0.0.9 nexthop 10.0.0.9
    sleep 1
    "${g[@]}" >"$RUN/gobgp-rib.txt"
    vty fr 'show bgp l2vpn evpn' >"$RUN/fr-evpn.txt"
    "${g[@]}" del macadv 02:00:00:09:01:01 0.0.0.0 "${common[@]}"
    sleep 1
    "${g[@]}" del macadv 02:00:00:09:01:01 10.1.1.9 "${common[@]}"
    sleep 1
    "${g[@]}" del macadv 02:00:00:09:01:01 fd00:1::9 "${common[@]}"
    sleep 1
    "${g[@]}" del multicast 10.0.0.9 etag 0 rd 10.0.0.9:100 rt 65000:100 encap vxlan \
        pmsi ingress-repl 100 10.0.0.9 nexthop 10.0.0.9
    sleep 1
    cap_stop gobgp
    teardown
}

scenarios=("$@")
[[ ${#scenarios[@]} -eq 0 ]] && scenarios=(ibgp ebgp gobgp)
for s in "${scenarios[@]}"; do
    case $s in
        ibgp | ebgp | gobgp) "scenario_$s" ;;
        *) die "unknown scenario: $s" ;;
    esac
done
log "done; pcaps in $OUT"
