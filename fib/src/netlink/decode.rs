//! Turns rtnetlink messages (dumps and events) into model values. Nothing from the
//! kernel is trusted: a malformed attribute makes an entry unclassifiable, never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVxlan, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage,
};
use netlink_packet_route::AddressFamily;

use crate::model::{
    Bridge, BridgePort, FdbKey, LocalMac, Mac, NeighKey, RemoteFdb, Topology, Vni, VxlanDevice,
};

const NUD_INCOMPLETE: u16 = 0x01;
const NUD_FAILED: u16 = 0x20;
const NUD_NOARP: u16 = 0x40;
const NUD_PERMANENT: u16 = 0x80;

/// What a link is, as far as evpnd cares.
pub enum LinkKind {
    Bridge(Bridge),
    Vxlan(VxlanDevice),
    /// Any other link; `master` set when enslaved.
    Other {
        name: String,
        ifindex: u32,
        master: Option<u32>,
    },
}

pub fn link(m: &LinkMessage) -> LinkKind {
    let ifindex = m.header.index;
    let up = m.header.flags.contains(LinkFlags::Up);
    let mut name = String::new();
    let mut master = None;
    let mut mac = None;
    let mut kind = None;
    let mut vx: Option<&Vec<InfoVxlan>> = None;
    for a in &m.attributes {
        match a {
            LinkAttribute::IfName(n) => name = n.clone(),
            LinkAttribute::Controller(i) => master = Some(*i),
            LinkAttribute::Address(b) => mac = Mac::from_slice(b),
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    match i {
                        LinkInfo::Kind(k) => kind = Some(k.clone()),
                        LinkInfo::Data(InfoData::Vxlan(v)) => vx = Some(v),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    match kind {
        Some(InfoKind::Bridge) => LinkKind::Bridge(Bridge {
            name,
            ifindex,
            mac,
            up,
            addrs: Vec::new(),
        }),
        Some(InfoKind::Vxlan) => {
            let mut d = VxlanDevice {
                name,
                ifindex,
                vni: None,
                local: None,
                dstport: 0,
                learning: true,
                external: false,
                vnifilter: false,
                master,
                up,
            };
            let mut id = None;
            for a in vx.map(|v| v.as_slice()).unwrap_or(&[]) {
                match a {
                    InfoVxlan::Id(v) => id = Some(Vni(*v)),
                    InfoVxlan::Local(a) => d.local = Some(IpAddr::V4(*a)),
                    InfoVxlan::Local6(a) => d.local = Some(IpAddr::V6(*a)),
                    InfoVxlan::Port(p) => d.dstport = *p,
                    InfoVxlan::Learning(l) => d.learning = *l,
                    InfoVxlan::CollectMetadata(c) => d.external = *c,
                    InfoVxlan::Vnifilter(f) => d.vnifilter = *f,
                    _ => {}
                }
            }
            // An external device's IFLA_VXLAN_ID is meaningless (0): VNIs come per packet.
            d.vni = if d.external { None } else { id };
            LinkKind::Vxlan(d)
        }
        _ => LinkKind::Other {
            name,
            ifindex,
            master,
        },
    }
}

/// Builds a topology from all links and addresses of a dump.
pub fn topology(links: &[LinkMessage], addrs: &[AddressMessage]) -> Topology {
    let mut t = Topology::default();
    let mut others = Vec::new();
    for l in links {
        match link(l) {
            LinkKind::Bridge(b) => {
                t.bridges.insert(b.ifindex, b);
            }
            LinkKind::Vxlan(v) => {
                t.vxlans.insert(v.ifindex, v);
            }
            LinkKind::Other {
                name,
                ifindex,
                master: Some(master),
            } => {
                others.push(BridgePort {
                    name,
                    ifindex,
                    master,
                });
            }
            LinkKind::Other { .. } => {}
        }
    }
    for p in others {
        if t.bridges.contains_key(&p.master) {
            t.ports.insert(p.ifindex, p);
        }
    }
    for a in addrs {
        let Some(b) = t.bridges.get_mut(&a.header.index) else {
            continue;
        };
        let ip = a.attributes.iter().find_map(|x| match x {
            AddressAttribute::Local(ip) => Some(*ip),
            _ => None,
        });
        let ip = ip.or_else(|| {
            a.attributes.iter().find_map(|x| match x {
                AddressAttribute::Address(ip) => Some(*ip),
                _ => None,
            })
        });
        if let Some(ip) = ip {
            b.addrs.push((ip, a.header.prefix_len));
        }
    }
    for b in t.bridges.values_mut() {
        b.addrs.sort();
    }
    t
}

fn ip_from_bytes(b: &[u8]) -> Option<IpAddr> {
    if let Ok(a) = <[u8; 4]>::try_from(b) {
        return Some(IpAddr::V4(Ipv4Addr::from(a)));
    }
    <[u8; 16]>::try_from(b)
        .ok()
        .map(|a| IpAddr::V6(Ipv6Addr::from(a)))
}

fn dst(m: &NeighbourMessage) -> Option<IpAddr> {
    m.attributes.iter().find_map(|a| match a {
        NeighbourAttribute::Destination(NeighbourAddress::Inet(a)) => Some(IpAddr::V4(*a)),
        NeighbourAttribute::Destination(NeighbourAddress::Inet6(a)) => Some(IpAddr::V6(*a)),
        NeighbourAttribute::Destination(NeighbourAddress::Other(b)) => ip_from_bytes(b),
        _ => None,
    })
}

fn lladdr(m: &NeighbourMessage) -> Option<Mac> {
    m.attributes.iter().find_map(|a| match a {
        NeighbourAttribute::LinkLayerAddress(b) => Mac::from_slice(b),
        _ => None,
    })
}

/// An AF_BRIDGE FDB row, classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdbRow {
    /// A `dst` row for a unicast MAC on a VXLAN device.
    Remote {
        key: FdbKey,
        dest: RemoteFdb,
        owned: bool,
    },
    /// One `dst` of the all-zero (flood) row of a VXLAN device.
    Flood {
        vni: Vni,
        vtep: IpAddr,
        owned: bool,
    },
    /// A MAC on a host-facing bridge port.
    Local {
        key: FdbKey,
        local: LocalMac,
    },
    /// The bridge's row for a MAC on a VXLAN port: the twin of a remote `dst` row, or
    /// `learned` from VXLAN traffic (dynamic: neither extern_learn nor static).
    BridgeOnVxlan {
        key: FdbKey,
        learned: bool,
    },
    Ignore,
}

pub fn fdb_row(t: &Topology, m: &NeighbourMessage) -> FdbRow {
    if m.header.family != AddressFamily::Bridge {
        return FdbRow::Ignore;
    }
    let Some(mac) = lladdr(m) else {
        return FdbRow::Ignore;
    };
    let flags = m.header.flags;
    let state = u16::from(m.header.state);
    let ext = flags.contains(NeighbourFlags::ExtLearned);
    let ifindex = m.header.ifindex;
    let src_vni = m.attributes.iter().find_map(|a| match a {
        NeighbourAttribute::SourceVni(v) => Some(*v),
        _ => None,
    });
    if t.vxlans.contains_key(&ifindex) {
        let Some(vni) = t.vni_of_row(ifindex, src_vni) else {
            return FdbRow::Ignore;
        };
        return match dst(m) {
            Some(vtep) if flags.contains(NeighbourFlags::Own) => {
                if mac.is_zero() {
                    FdbRow::Flood {
                        vni,
                        vtep,
                        owned: ext,
                    }
                } else {
                    let sticky = flags.contains(NeighbourFlags::Sticky);
                    FdbRow::Remote {
                        key: FdbKey { vni, mac },
                        dest: RemoteFdb { vtep, sticky },
                        owned: ext,
                    }
                }
            }
            None if !flags.contains(NeighbourFlags::Own) && state & NUD_PERMANENT == 0 => {
                FdbRow::BridgeOnVxlan {
                    key: FdbKey { vni, mac },
                    learned: !ext && state & NUD_NOARP == 0,
                }
            }
            _ => FdbRow::Ignore,
        };
    }
    let Some(port) = t.ports.get(&ifindex) else {
        return FdbRow::Ignore;
    };
    // NTF_SELF rows are the port device's own table; permanent rows are the port's own
    // address. Neither is a host behind the port.
    if flags.contains(NeighbourFlags::Own) || state & NUD_PERMANENT != 0 {
        return FdbRow::Ignore;
    }
    let Some(vni) = t.vni_of_bridge(port.master) else {
        return FdbRow::Ignore;
    };
    FdbRow::Local {
        key: FdbKey { vni, mac },
        local: LocalMac {
            port: ifindex,
            // The row's `sticky` flag (NTF_STICKY), as FRR's zebra reads it: a `static`
            // row (NUD_NOARP) only does not age, and advertising it sticky would pin MACs
            // that FRR lets move (RFC 7432 15.2 leaves what counts as static to us).
            sticky: flags.contains(NeighbourFlags::Sticky),
        },
    }
}

/// An AF_INET/AF_INET6 neighbour on an SVI, classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeighRow {
    Owned {
        key: NeighKey,
        mac: Mac,
    },
    /// Somebody else's entry with a MAC (the kernel's learned ones: local MAC/IP).
    Foreign {
        key: NeighKey,
        mac: Mac,
    },
    /// An entry without a usable MAC (incomplete/failed): neither local nor blocking.
    Unresolved {
        key: NeighKey,
    },
    Ignore,
}

pub fn neigh_row(t: &Topology, m: &NeighbourMessage) -> NeighRow {
    if !matches!(m.header.family, AddressFamily::Inet | AddressFamily::Inet6) {
        return NeighRow::Ignore;
    }
    if !t.bridges.contains_key(&m.header.ifindex) {
        return NeighRow::Ignore;
    }
    let Some(vni) = t.vni_of_bridge(m.header.ifindex) else {
        return NeighRow::Ignore;
    };
    let Some(ip) = dst(m) else {
        return NeighRow::Ignore;
    };
    let key = NeighKey { vni, ip };
    let state = u16::from(m.header.state);
    let mac = lladdr(m);
    match mac {
        Some(mac) if m.header.flags.contains(NeighbourFlags::ExtLearned) => {
            NeighRow::Owned { key, mac }
        }
        Some(mac) if state & (NUD_INCOMPLETE | NUD_FAILED) == 0 && !mac.is_zero() => {
            NeighRow::Foreign { key, mac }
        }
        _ => NeighRow::Unresolved { key },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BridgePort;

    fn topo() -> Topology {
        let mut t = crate::testutil::br100_vxlan100();
        t.ports.insert(
            3,
            BridgePort {
                name: "vh0".into(),
                ifindex: 3,
                master: 1,
            },
        );
        t
    }

    fn fdb(
        ifindex: u32,
        flags: NeighbourFlags,
        state: u16,
        attrs: Vec<NeighbourAttribute>,
    ) -> NeighbourMessage {
        let mut m = NeighbourMessage::default();
        m.header.family = AddressFamily::Bridge;
        m.header.ifindex = ifindex;
        m.header.flags = flags;
        m.header.state = state.into();
        m.attributes = attrs;
        m
    }

    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

    #[test]
    fn classifies_bridge_rows() {
        let t = topo();
        let ll = || NeighbourAttribute::LinkLayerAddress(MAC.to_vec());
        let dst = |b: &[u8]| NeighbourAttribute::Destination(NeighbourAddress::Other(b.to_vec()));
        let key = FdbKey {
            vni: Vni(100),
            mac: Mac(MAC),
        };
        let own_ext = NeighbourFlags::Own | NeighbourFlags::ExtLearned;

        let remote = fdb(2, own_ext, 0x02, vec![ll(), dst(&[10, 0, 0, 2])]);
        assert_eq!(
            fdb_row(&t, &remote),
            FdbRow::Remote {
                key,
                dest: RemoteFdb {
                    vtep: "10.0.0.2".parse().unwrap(),
                    sticky: false
                },
                owned: true
            }
        );
        let hand = fdb(
            2,
            NeighbourFlags::Own,
            0x80,
            vec![ll(), dst(&[10, 0, 0, 9])],
        );
        assert!(matches!(
            fdb_row(&t, &hand),
            FdbRow::Remote { owned: false, .. }
        ));
        let flood = fdb(
            2,
            own_ext,
            0xc0,
            vec![
                NeighbourAttribute::LinkLayerAddress(vec![0; 6]),
                dst(&[0xfd; 16]),
            ],
        );
        assert!(matches!(
            fdb_row(&t, &flood),
            FdbRow::Flood {
                owned: true,
                vtep: IpAddr::V6(_),
                ..
            }
        ));
        let learned = fdb(3, NeighbourFlags::Controller, 0x02, vec![ll()]);
        assert_eq!(
            fdb_row(&t, &learned),
            FdbRow::Local {
                key,
                local: LocalMac {
                    port: 3,
                    sticky: false
                }
            }
        );
        // `static` alone (NUD_NOARP) is not sticky; the `sticky` flag is (FRR's reading).
        let local_sticky = |flags, state| match fdb_row(&t, &fdb(3, flags, state, vec![ll()])) {
            FdbRow::Local { local, .. } => Some(local.sticky),
            _ => None,
        };
        assert_eq!(local_sticky(NeighbourFlags::Controller, 0x40), Some(false));
        assert_eq!(
            local_sticky(NeighbourFlags::Controller | NeighbourFlags::Sticky, 0x40),
            Some(true)
        );
        let port_addr = fdb(3, NeighbourFlags::Controller, 0x80, vec![ll()]);
        assert_eq!(fdb_row(&t, &port_addr), FdbRow::Ignore);
        let self_row = fdb(3, NeighbourFlags::Own, 0x02, vec![ll()]);
        assert_eq!(fdb_row(&t, &self_row), FdbRow::Ignore);
        // Malformed input from the kernel: unclassifiable, never a panic.
        let bad_mac = fdb(
            3,
            NeighbourFlags::Controller,
            0x02,
            vec![NeighbourAttribute::LinkLayerAddress(vec![1, 2, 3])],
        );
        assert_eq!(fdb_row(&t, &bad_mac), FdbRow::Ignore);
        let bad_dst = fdb(2, own_ext, 0x02, vec![ll(), dst(&[10, 0, 0])]);
        assert_eq!(fdb_row(&t, &bad_dst), FdbRow::Ignore);
        let unknown_dev = fdb(99, NeighbourFlags::Controller, 0x02, vec![ll()]);
        assert_eq!(fdb_row(&t, &unknown_dev), FdbRow::Ignore);
    }
}
