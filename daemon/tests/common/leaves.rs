//! Two VXLAN leaves in network namespaces of their own (root only), joined by a veth:
//! evpnd (FIB on, `advertise_all_vni`) in one, FRR 8.4 zebra + bgpd (`advertise-all-vni`)
//! in the other, over the /31 (evpnd AS 65000, FRR AS 65003 for eBGP or 65000). Both have
//! VNI 100 (`br100` + `vxlan100` local = the leaf's VTEP) and a host port `h1` (bridge
//! learning off, so only the MACs the test configures exist): that is the least
//! machinery with which both daemons originate real type-2 and type-3 routes from
//! kernel state, exactly as in a fabric.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

use super::{config, Evpnd, Frr, Netns, PeerLine};

/// evpnd's side of the link, and its VTEP.
pub const E_ADDR: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 0);
pub const E_VTEP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// FRR's side of the link, and its VTEP.
pub const F_ADDR: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
pub const F_VTEP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// A host behind a leaf: a MAC, and optionally its IPv4/IPv6 addresses in the SVI's
/// neighbour table (MAC+IP routes). `sticky`: a `static sticky` FDB row (evpnd and FRR
/// advertise it with the MAC mobility sticky flag).
pub struct Host {
    pub mac: &'static str,
    pub sticky: bool,
    pub ipv4: Option<&'static str>,
    pub ipv6: Option<&'static str>,
}

pub struct Leaves {
    /// evpnd's namespace.
    pub e: Netns,
    /// FRR's namespace.
    pub f: Netns,
}

/// The two namespaces `evt-interop-{tag}-e|f-<pid>` with their bridges and the link.
pub fn leaves(tag: &str) -> Leaves {
    let pid = std::process::id();
    let e = Netns::new(&format!("evt-interop-{tag}-e-{pid}"));
    let f = Netns::new(&format!("evt-interop-{tag}-f-{pid}"));
    e.sh("ip link set lo up");
    f.sh("ip link set lo up");
    e.sh(&format!(
        "ip link add name e0 type veth peer name f0 netns {}",
        f.0
    ));
    e.sh(&format!("ip addr add {E_ADDR}/31 dev e0"));
    f.sh(&format!("ip addr add {F_ADDR}/31 dev f0"));
    e.sh("ip link set e0 up");
    f.sh("ip link set f0 up");
    leaf(&e, E_VTEP, F_VTEP, F_ADDR);
    leaf(&f, F_VTEP, E_VTEP, E_ADDR);
    Leaves { e, f }
}

fn leaf(ns: &Netns, vtep: Ipv4Addr, other_vtep: Ipv4Addr, via: Ipv4Addr) {
    for c in [
        format!("ip addr add {vtep}/32 dev lo"),
        format!("ip route add {other_vtep}/32 via {via}"),
        "ip link add name br100 type bridge".into(),
        format!("ip link add name vxlan100 type vxlan id 100 local {vtep} dstport 4789 nolearning"),
        "ip link set vxlan100 master br100".into(),
        "ip link add name h1 type veth peer name h1p".into(),
        "ip link set h1 master br100".into(),
        "bridge link set dev h1 learning off".into(),
        "ip link set br100 up".into(),
        "ip link set vxlan100 up".into(),
        "ip link set h1 up".into(),
        "ip link set h1p up".into(),
    ] {
        ns.sh(&c);
    }
    // The port forwards only once the kernel saw the veth's carrier (asynchronously);
    // before that the bridge refuses dynamic FDB rows on it (EPERM).
    let ok = super::wait_until(std::time::Duration::from_secs(10), || {
        ns.out("bridge link show dev h1")
            .contains("state forwarding")
    });
    assert!(
        ok,
        "h1 not forwarding: {}",
        ns.out("bridge link show dev h1")
    );
}

/// Puts `h` behind port `h1` of the leaf in `ns`.
pub fn add_host(ns: &Netns, h: &Host) {
    let state = if h.sticky { "static sticky" } else { "dynamic" };
    ns.sh(&format!(
        "bridge fdb replace {} dev h1 master {state}",
        h.mac
    ));
    for ip in [h.ipv4, h.ipv6].into_iter().flatten() {
        ns.sh(&format!(
            "ip neigh replace {ip} lladdr {} dev br100 nud reachable",
            h.mac
        ));
    }
}

/// Removes `h` (its neighbour entries and its FDB row).
pub fn del_host(ns: &Netns, h: &Host) {
    for ip in [h.ipv4, h.ipv6].into_iter().flatten() {
        ns.sh(&format!("ip neigh del {ip} dev br100"));
    }
    ns.sh(&format!("bridge fdb del {} dev h1 master", h.mac));
}

/// FRR's AS for eBGP with evpnd (AS 65000).
pub const F_AS: u32 = 65003;

/// FRR's bgpd.conf: AS `asn`, passive towards evpnd, `advertise-all-vni`; `extra` goes
/// under `router bgp` (e.g. graceful restart).
pub fn frr_conf(asn: u32, extra: &str) -> String {
    format!(
        "frr defaults datacenter\nhostname frrleaf\nrouter bgp {asn}\n \
         bgp router-id {F_VTEP}\n no bgp default ipv4-unicast\n \
         no bgp ebgp-requires-policy\n coalesce-time 100\n{extra} \
         neighbor {E_ADDR} remote-as 65000\n neighbor {E_ADDR} passive\n \
         neighbor {E_ADDR} timers 3 9\n \
         address-family l2vpn evpn\n  neighbor {E_ADDR} activate\n  advertise-all-vni\n \
         exit-address-family\n"
    )
}

/// FRR in AS `F_AS` (eBGP with evpnd).
pub fn start_frr(dir: &Path, l: &Leaves, extra: &str) -> Frr {
    start_frr_as(dir, l, F_AS, extra)
}

pub fn start_frr_as(dir: &Path, l: &Leaves, asn: u32, extra: &str) -> Frr {
    Frr::spawn_in(
        dir,
        &l.f,
        SocketAddr::from((F_ADDR, 179)),
        &frr_conf(asn, extra),
    )
}

/// evpnd's config: AS 65000, router id = its VTEP, FIB on, every VNI advertised, FRR in
/// `F_AS`; `global` goes under `[global]`, `peer` into FRR's `[[peer]]`.
pub fn evpnd_conf(dir: &Path, global: &str, peer: &str) -> String {
    evpnd_conf_as(dir, global, peer, F_AS)
}

/// As `evpnd_conf`, FRR in `frr_as`.
pub fn evpnd_conf_as(dir: &Path, global: &str, peer: &str, frr_as: u32) -> String {
    let mut line = PeerLine::new(F_ADDR, 179).remote_as(frr_as);
    if !peer.is_empty() {
        line = line.with(peer);
    }
    let text = config(
        65000,
        &E_VTEP.to_string(),
        SocketAddr::from((E_ADDR, 179)),
        &dir.join("e/evpnd.sock"),
        &[line],
        "[evpn]\nadvertise_all_vni = true\n",
    )
    .replace("[fib]\nenabled = false", "[fib]\nenabled = true")
    .replace("listen = [", &format!("{global}\nlisten = ["));
    assert!(text.contains("[fib]\nenabled = true"), "{text}");
    text
}

pub fn start_evpnd(dir: &Path, l: &Leaves, text: &str) -> Evpnd {
    Evpnd::start_in(dir, "e", text, Some(&l.e))
}
