//! The route set of the RIB bench and memory test: `n` EVPN type-2 MAC+IPv4 routes from
//! one peer, 100 VNIs (one route target each) x 3 VTEPs = 300 attribute sets, packed into
//! 4096-octet UPDATEs by the codec, and a counting global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};

use bgp::packet::evpn::{Esi, EvpnNlri, Label, MacIpAdvertisement};
use bgp::packet::extcomm::{ExtendedCommunity, RouteTarget};
use bgp::packet::types::{MacAddress, RouteDistinguisher};
use bgp::packet::{pack_evpn_updates, AsPath, DecodeOptions, Message};
use bgp::rib::{PathAttrs, PeerConfig, PeerId, Rib, RibConfig};
use bytes::BytesMut;

/// Counts live heap bytes.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size(), Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new, Ordering::Relaxed);
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

pub fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

pub const VNIS: u32 = 100;
pub const VTEPS: u32 = 3;

/// The UPDATE messages carrying `n` routes.
pub fn messages(n: u32) -> Vec<BytesMut> {
    let opts = DecodeOptions::default();
    let mut groups: Vec<Vec<EvpnNlri>> = vec![Vec::new(); (VNIS * VTEPS) as usize];
    for i in 0..n {
        let (vni, vtep) = (i % VNIS, (i / VNIS) % VTEPS);
        let [_, a, b, c] = i.to_be_bytes();
        groups[(vni * VTEPS + vtep) as usize].push(EvpnNlri::MacIp(MacIpAdvertisement {
            rd: RouteDistinguisher::Ipv4 {
                addr: Ipv4Addr::new(10, 0, 0, vtep as u8 + 1),
                number: vni as u16 + 1,
            },
            esi: Esi::ZERO,
            ethernet_tag: 0,
            mac_len: 48,
            mac: MacAddress([0x02, 0, 0, a, b, c]),
            ip: Some(IpAddr::V4(Ipv4Addr::new(10, a, b, c))),
            label1: Label::from_vni(10_000 + vni),
            label2: None,
        }));
    }
    let mut out = Vec::new();
    for (g, routes) in groups.iter().enumerate() {
        let (vni, vtep) = (g as u32 / VTEPS, g as u32 % VTEPS);
        let attrs = PathAttrs {
            as_path: AsPath::default(),
            local_pref: Some(100),
            ext_communities: vec![
                ExtendedCommunity::route_target(RouteTarget::As2 {
                    asn: 65001,
                    value: 10_000 + vni,
                }),
                ExtendedCommunity::vxlan_encapsulation(),
            ],
            ..Default::default()
        };
        let nh = IpAddr::V4(Ipv4Addr::new(10, 1, 1, vtep as u8 + 1));
        out.extend(pack_evpn_updates(&attrs.to_attributes(), nh, routes, &opts).unwrap());
    }
    out
}

/// A RIB (AS 65001) with one iBGP peer (an FRR route reflector).
pub fn rib() -> (Rib, PeerId) {
    let mut rib = Rib::new(RibConfig::new(65001, Ipv4Addr::new(10, 0, 0, 9)));
    let p = rib.add_peer(PeerConfig::new(
        IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1)),
        65001,
        Ipv4Addr::new(10, 0, 0, 100),
    ));
    (rib, p)
}

/// Decodes every message and applies it; returns the number of Loc-RIB changes.
pub fn load(rib: &mut Rib, peer: PeerId, msgs: &[BytesMut]) -> usize {
    let opts = DecodeOptions::default();
    let mut changes = 0;
    for m in msgs {
        let Ok(Message::Update(u)) = Message::decode(m, &opts) else {
            panic!("not an UPDATE");
        };
        changes += rib.apply_update(peer, &u).unwrap().len();
    }
    changes
}

/// Decodes every message only; returns the number of routes.
pub fn decode_only(msgs: &[BytesMut]) -> usize {
    let opts = DecodeOptions::default();
    msgs.iter()
        .map(|m| match Message::decode(m, &opts) {
            Ok(Message::Update(u)) => u.mp_reach().map_or(0, |r| r.nlri.len()),
            _ => panic!("not an UPDATE"),
        })
        .sum()
}
