//! Builds the rtnetlink requests for each [`Op`], byte for byte the way FRR's zebra
//! does (zebra/rt_netlink.c), so `bridge fdb` / `ip neigh` show the same thing:
//!
//! ```text
//! remote MAC   RTM_NEWNEIGH AF_BRIDGE  ifindex=vxlan  NTF_MASTER|NTF_SELF|NTF_EXT_LEARNED
//!              NUD_REACHABLE  NLM_F_CREATE|NLM_F_REPLACE  NDA_LLADDR NDA_DST NDA_MASTER
//!              -> "MAC dst VTEP self extern_learn" + "MAC extern_learn master br100"
//! sticky MAC   the same row with NTF_STICKY, NUD_NOARP, self only; plus a bridge row
//!              NTF_MASTER|NTF_STICKY NUD_NOARP -> "MAC sticky master br100 static"
//! flood        RTM_NEWNEIGH AF_BRIDGE  ifindex=vxlan  NTF_SELF|NTF_EXT_LEARNED
//!              NUD_NOARP|NUD_PERMANENT  NLM_F_CREATE|NLM_F_APPEND  NDA_LLADDR=0 NDA_DST
//!              -> "00:00:00:00:00:00 dst VTEP self extern_learn permanent"
//! neighbour    RTM_NEWNEIGH AF_INET(6) ifindex=SVI  NTF_EXT_LEARNED  NUD_NOARP
//!              NLM_F_CREATE|NLM_F_REPLACE  NDA_DST NDA_LLADDR NDA_PROTOCOL=zebra
//!              -> "IP lladdr MAC extern_learn NOARP proto zebra"
//! ```
//! The flood row carries NTF_EXT_LEARNED, unlike zebra's, because it is the only mark
//! of ownership the kernel keeps for it (see `reconcile`).

use std::net::IpAddr;

use netlink_packet_core::{NLM_F_APPEND, NLM_F_CREATE, NLM_F_REPLACE};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::route::RouteProtocol;
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::error::FibError;
use crate::model::{Mac, Topology, VniBinding};
use crate::reconcile::Op;

const NUD_REACHABLE: u16 = 0x02;
const NUD_NOARP: u16 = 0x40;
const NUD_PERMANENT: u16 = 0x80;

/// NDA_PROTOCOL of our neighbour entries: zebra's (11), so that our kernel state reads
/// exactly like FRR's to operators and tools.
pub const NEIGH_PROTOCOL: RouteProtocol = RouteProtocol::Zebra;

/// One request: netlink flags (beyond NLM_F_REQUEST) and the message.
pub struct Request {
    pub flags: u16,
    pub msg: RouteNetlinkMessage,
    /// For the bridge half of an FDB delete: ENOENT is fine (the row may have moved to a
    /// local port, or aged).
    pub enoent_ok: bool,
}

fn addr(ip: IpAddr) -> NeighbourAddress {
    match ip {
        IpAddr::V4(a) => NeighbourAddress::Inet(a),
        IpAddr::V6(a) => NeighbourAddress::Inet6(a),
    }
}

/// NDA_DST inside AF_BRIDGE messages is raw bytes (4 or 16).
fn bridge_dst(ip: IpAddr) -> NeighbourAttribute {
    let bytes = match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    NeighbourAttribute::Destination(NeighbourAddress::Other(bytes))
}

fn family(ip: IpAddr) -> AddressFamily {
    match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

fn bridge_msg(b: &VniBinding, flags: NeighbourFlags, state: u16, mac: Mac) -> NeighbourMessage {
    let mut m = NeighbourMessage::default();
    m.header.family = AddressFamily::Bridge;
    m.header.ifindex = b.vxlan;
    m.header.flags = flags;
    m.header.state = NeighbourState::from(state);
    m.attributes
        .push(NeighbourAttribute::LinkLayerAddress(mac.0.to_vec()));
    if b.external {
        m.attributes.push(NeighbourAttribute::SourceVni(b.vni.0));
    }
    // VLAN-aware bridge with a vnifilter device (untested: this kernel lacks bridge VLAN
    // filtering).
    if let Some(vlan) = b.vlan {
        m.attributes.push(NeighbourAttribute::Vlan(vlan));
    }
    m
}

/// The requests for one operation (one, or two for an FDB delete).
pub fn encode(op: &Op, topo: &Topology, out: &mut Vec<Request>) -> Result<(), FibError> {
    let vni = op.vni();
    let b = topo.binding(vni).ok_or(FibError::UnknownVni(vni))?;
    match *op {
        Op::FdbReplace { key, dest } if dest.sticky => {
            // The bridge drops NTF_STICKY on extern_learn rows, so a static MAC takes two
            // rows: ours (`dst ... self extern_learn sticky`, the ownership mark) and a
            // sticky static bridge row that never moves to a local port.
            let flags = NeighbourFlags::Own | NeighbourFlags::ExtLearned | NeighbourFlags::Sticky;
            let mut m = bridge_msg(&b, flags, NUD_REACHABLE | NUD_NOARP, key.mac);
            m.attributes.push(bridge_dst(dest.vtep));
            out.push(Request {
                flags: NLM_F_CREATE | NLM_F_REPLACE,
                msg: RouteNetlinkMessage::NewNeighbour(m),
                enoent_ok: false,
            });
            if b.bridge.is_some() {
                let flags = NeighbourFlags::Controller | NeighbourFlags::Sticky;
                let m = bridge_msg(&b, flags, NUD_REACHABLE | NUD_NOARP, key.mac);
                out.push(Request {
                    flags: NLM_F_CREATE | NLM_F_REPLACE,
                    msg: RouteNetlinkMessage::NewNeighbour(m),
                    enoent_ok: false,
                });
            }
        }
        Op::FdbReplace { key, dest } => {
            let mut flags = NeighbourFlags::Own | NeighbourFlags::ExtLearned;
            if b.bridge.is_some() {
                flags |= NeighbourFlags::Controller;
            }
            let mut m = bridge_msg(&b, flags, NUD_REACHABLE, key.mac);
            m.attributes.push(bridge_dst(dest.vtep));
            if let Some(br) = b.bridge {
                m.attributes.push(NeighbourAttribute::Controller(br));
            }
            out.push(Request {
                flags: NLM_F_CREATE | NLM_F_REPLACE,
                msg: RouteNetlinkMessage::NewNeighbour(m),
                enoent_ok: false,
            });
        }
        Op::FloodAppend { vtep, .. } => {
            let flags = NeighbourFlags::Own | NeighbourFlags::ExtLearned;
            let mut m = bridge_msg(&b, flags, NUD_NOARP | NUD_PERMANENT, Mac::ZERO);
            m.attributes.push(bridge_dst(vtep));
            out.push(Request {
                flags: NLM_F_CREATE | NLM_F_APPEND,
                msg: RouteNetlinkMessage::NewNeighbour(m),
                enoent_ok: false,
            });
        }
        Op::FdbDelete { key, vtep } => {
            let mut m = bridge_msg(&b, NeighbourFlags::Own, 0, key.mac);
            m.attributes.push(bridge_dst(vtep));
            out.push(Request {
                flags: 0,
                msg: RouteNetlinkMessage::DelNeighbour(m),
                enoent_ok: false,
            });
            // The bridge row separately: with both flags in one message the kernel stops
            // at the first failure, and the bridge row may legitimately be gone.
            if b.bridge.is_some() {
                let m = bridge_msg(&b, NeighbourFlags::Controller, 0, key.mac);
                out.push(Request {
                    flags: 0,
                    msg: RouteNetlinkMessage::DelNeighbour(m),
                    enoent_ok: true,
                });
            }
        }
        Op::FloodDelete { vtep, .. } => {
            let mut m = bridge_msg(&b, NeighbourFlags::Own, 0, Mac::ZERO);
            m.attributes.push(bridge_dst(vtep));
            out.push(Request {
                flags: 0,
                msg: RouteNetlinkMessage::DelNeighbour(m),
                enoent_ok: false,
            });
        }
        Op::NeighReplace { key, mac } => {
            let svi = b.bridge.ok_or(FibError::NoSvi(vni))?;
            let mut m = NeighbourMessage::default();
            m.header.family = family(key.ip);
            m.header.ifindex = svi;
            m.header.flags = NeighbourFlags::ExtLearned;
            m.header.state = NeighbourState::from(NUD_NOARP);
            m.attributes
                .push(NeighbourAttribute::Destination(addr(key.ip)));
            m.attributes
                .push(NeighbourAttribute::LinkLayerAddress(mac.0.to_vec()));
            m.attributes
                .push(NeighbourAttribute::Protocol(NEIGH_PROTOCOL));
            out.push(Request {
                flags: NLM_F_CREATE | NLM_F_REPLACE,
                msg: RouteNetlinkMessage::NewNeighbour(m),
                enoent_ok: false,
            });
        }
        Op::NeighDelete { key } => {
            let svi = b.bridge.ok_or(FibError::NoSvi(vni))?;
            let mut m = NeighbourMessage::default();
            m.header.family = family(key.ip);
            m.header.ifindex = svi;
            m.attributes
                .push(NeighbourAttribute::Destination(addr(key.ip)));
            out.push(Request {
                flags: 0,
                msg: RouteNetlinkMessage::DelNeighbour(m),
                enoent_ok: false,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Bridge, FdbKey, NeighKey, RemoteFdb, Vni, VxlanDevice};

    fn topo() -> Topology {
        let mut t = Topology::default();
        t.bridges.insert(
            10,
            Bridge {
                name: "br100".into(),
                ifindex: 10,
                mac: None,
                up: true,
                addrs: vec![],
            },
        );
        t.vxlans.insert(
            11,
            VxlanDevice {
                name: "vxlan100".into(),
                ifindex: 11,
                vni: Some(Vni(100)),
                local: None,
                dstport: 4789,
                learning: false,
                external: false,
                vnifilter: false,
                master: Some(10),
                up: true,
            },
        );
        t
    }

    fn one(op: Op) -> Vec<(u16, NeighbourMessage, bool, bool)> {
        let mut out = Vec::new();
        encode(&op, &topo(), &mut out).unwrap();
        out.into_iter()
            .map(|r| match r.msg {
                RouteNetlinkMessage::NewNeighbour(m) => (r.flags, m, true, r.enoent_ok),
                RouteNetlinkMessage::DelNeighbour(m) => (r.flags, m, false, r.enoent_ok),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    const MAC: Mac = Mac([2, 0, 0, 0, 0, 1]);
    fn vtep() -> IpAddr {
        "10.0.0.2".parse().unwrap()
    }

    #[test]
    fn remote_mac_is_zebras_single_message() {
        let key = FdbKey {
            vni: Vni(100),
            mac: MAC,
        };
        let r = one(Op::FdbReplace {
            key,
            dest: RemoteFdb {
                vtep: vtep(),
                sticky: false,
            },
        });
        assert_eq!(r.len(), 1);
        let (fl, m, new, _) = &r[0];
        assert!(*new);
        assert_eq!(*fl, NLM_F_CREATE | NLM_F_REPLACE);
        assert_eq!(m.header.family, AddressFamily::Bridge);
        assert_eq!(m.header.ifindex, 11);
        assert_eq!(
            m.header.flags,
            NeighbourFlags::Own | NeighbourFlags::Controller | NeighbourFlags::ExtLearned
        );
        assert_eq!(u16::from(m.header.state), NUD_REACHABLE);
        assert!(m
            .attributes
            .contains(&NeighbourAttribute::LinkLayerAddress(MAC.0.to_vec())));
        assert!(m.attributes.contains(&bridge_dst(vtep())));
        assert!(m.attributes.contains(&NeighbourAttribute::Controller(10)));
    }

    #[test]
    fn flood_is_an_append_and_deletes_are_split() {
        let r = one(Op::FloodAppend {
            vni: Vni(100),
            vtep: vtep(),
        });
        let (fl, m, _, _) = &r[0];
        assert_eq!(*fl, NLM_F_CREATE | NLM_F_APPEND);
        assert_eq!(u16::from(m.header.state), NUD_NOARP | NUD_PERMANENT);
        assert!(m
            .attributes
            .contains(&NeighbourAttribute::LinkLayerAddress(vec![0; 6])));

        let key = FdbKey {
            vni: Vni(100),
            mac: MAC,
        };
        let r = one(Op::FdbDelete { key, vtep: vtep() });
        let kinds: Vec<(NeighbourFlags, bool, bool)> = r
            .iter()
            .map(|(_, m, new, ok)| (m.header.flags, *new, *ok))
            .collect();
        assert_eq!(
            kinds,
            [
                (NeighbourFlags::Own, false, false),
                (NeighbourFlags::Controller, false, true)
            ]
        );
    }

    #[test]
    fn neighbour_on_the_svi() {
        let key = NeighKey {
            vni: Vni(100),
            ip: "fd00::5".parse().unwrap(),
        };
        let r = one(Op::NeighReplace { key, mac: MAC });
        let (fl, m, _, _) = &r[0];
        assert_eq!(*fl, NLM_F_CREATE | NLM_F_REPLACE);
        assert_eq!(
            (m.header.family, m.header.ifindex),
            (AddressFamily::Inet6, 10)
        );
        assert_eq!(m.header.flags, NeighbourFlags::ExtLearned);
        assert_eq!(u16::from(m.header.state), NUD_NOARP);
        assert!(m
            .attributes
            .contains(&NeighbourAttribute::Protocol(NEIGH_PROTOCOL)));
        let mut out = Vec::new();
        let unknown = Op::FloodAppend {
            vni: Vni(7),
            vtep: vtep(),
        };
        assert!(matches!(
            encode(&unknown, &topo(), &mut out),
            Err(FibError::UnknownVni(Vni(7)))
        ));
    }
}
