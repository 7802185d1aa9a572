//! Plain data for the kernel state evpnd owns or watches, keyed by VNI rather than by
//! ifindex: the EVPN layer thinks in VNIs, and a single `external vnifilter` VXLAN device
//! serves many VNIs, so ifindex is resolved only at the netlink edge (see [`Topology`]).
//!
//! Sized for a million FDB entries: keys are fixed-size (`[u8; 6]`, `u32`), no `String`
//! per entry, ordered maps so that diffs are one merge pass and plans are deterministic.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A VXLAN network identifier (24 bits on the wire).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Vni(pub u32);

impl fmt::Display for Vni {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A 48-bit MAC address, printed as `aa:bb:cc:dd:ee:ff` (also in JSON).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// The all-zero MAC: the key of the VXLAN flood (head-end replication) list.
    pub const ZERO: Mac = Mac([0; 6]);

    /// `None` unless `b` is exactly six bytes (kernel attributes are checked, not trusted).
    pub fn from_slice(b: &[u8]) -> Option<Mac> {
        <[u8; 6]>::try_from(b).ok().map(Mac)
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 6]
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Error parsing a MAC address from text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MAC address: {0:?}")]
pub struct ParseMacError(pub String);

impl FromStr for Mac {
    type Err = ParseMacError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for b in out.iter_mut() {
            let p = parts
                .next()
                .filter(|p| p.len() == 2)
                .ok_or_else(|| ParseMacError(s.to_string()))?;
            *b = u8::from_str_radix(p, 16).map_err(|_| ParseMacError(s.to_string()))?;
        }
        if parts.next().is_some() {
            return Err(ParseMacError(s.to_string()));
        }
        Ok(Mac(out))
    }
}

impl Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Mac {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Key of an FDB entry: a MAC in a VNI (the EVPN MAC-VRF key, RFC 7432 section 7.2).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct FdbKey {
    pub vni: Vni,
    pub mac: Mac,
}

/// Where a remote MAC lives: the VTEP that advertised it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct RemoteFdb {
    pub vtep: IpAddr,
    /// Static MAC (RFC 7432 section 15.2): programmed with NTF_STICKY so that the bridge
    /// never moves it to a local port.
    pub sticky: bool,
}

/// Key of a neighbour (IP -> MAC) entry, installed on the SVI of the VNI's bridge.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct NeighKey {
    pub vni: Vni,
    pub ip: IpAddr,
}

/// Remote state in the kernel that evpnd programs: the desired state computed by the EVPN
/// layer, and the part of the kernel's actual state that evpnd owns, have this one shape.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct FibState {
    /// Remote MACs: (VNI, MAC) -> VTEP.
    pub fdb: BTreeMap<FdbKey, RemoteFdb>,
    /// Head-end replication lists: (VNI, remote VTEP) pairs, one all-zero FDB row each.
    pub flood: BTreeSet<(Vni, IpAddr)>,
    /// Remote MAC/IP bindings: (VNI, IP) -> MAC on the VNI's SVI.
    pub neigh: BTreeMap<NeighKey, Mac>,
    /// Keys of `fdb` whose remote entry replaces the kernel's local entry for that MAC
    /// (the EVPN layer decided the host moved away: a remote route with a higher
    /// sequence won). Every other local MAC still wins over a remote entry. Desired state
    /// only: a kernel snapshot leaves it empty.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub supersede_local: BTreeSet<FdbKey>,
}

impl FibState {
    pub fn is_empty(&self) -> bool {
        self.fdb.is_empty()
            && self.flood.is_empty()
            && self.neigh.is_empty()
            && self.supersede_local.is_empty()
    }
}

/// Remote-looking entries that somebody else put in the kernel (no NTF_EXT_LEARNED, or a
/// flood row not created by evpnd). Reconcile never changes or deletes them.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct ForeignState {
    pub fdb: BTreeSet<FdbKey>,
    pub flood: BTreeSet<(Vni, IpAddr)>,
    pub neigh: BTreeSet<NeighKey>,
}

/// A MAC the bridge learned (or was configured with) on one of its non-VXLAN ports.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct LocalMac {
    /// ifindex of the bridge port.
    pub port: u32,
    /// The FDB row has the `sticky` flag (NTF_STICKY): advertised sticky, as FRR does.
    pub sticky: bool,
}

/// What the local hosts are: learned MACs and the SVI's own neighbour table.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct LocalState {
    pub macs: BTreeMap<FdbKey, LocalMac>,
    /// Local MAC/IP pairs from the SVI neighbour table (reachable/stale/static entries that
    /// are not ours).
    pub neigh: BTreeMap<NeighKey, Mac>,
}

/// A Linux bridge; with the classic layout its own interface is the SVI of its VNI.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Bridge {
    pub name: String,
    pub ifindex: u32,
    pub mac: Option<Mac>,
    pub up: bool,
    /// Addresses of the bridge interface (the SVI), with prefix length.
    pub addrs: Vec<(IpAddr, u8)>,
}

/// A VXLAN device.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct VxlanDevice {
    pub name: String,
    pub ifindex: u32,
    /// The VNI of a classic device; `None` for `external` (collect-metadata) devices,
    /// whose VNIs come from the VNI filter.
    pub vni: Option<Vni>,
    pub local: Option<IpAddr>,
    pub dstport: u16,
    pub learning: bool,
    /// `external` (collect metadata) device.
    pub external: bool,
    /// `vnifilter`: the device carries the VNIs listed in its VNI filter.
    pub vnifilter: bool,
    /// ifindex of the bridge it is enslaved to.
    pub master: Option<u32>,
    pub up: bool,
}

/// A non-VXLAN bridge port (host-facing): MACs learned here are local.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct BridgePort {
    pub name: String,
    pub ifindex: u32,
    pub master: u32,
}

/// How one VNI maps onto devices. Classic layout: one VXLAN device per VNI in its own
/// bridge, `vlan` None, `external` false. With a single `external vnifilter` device,
/// `external` is true: FDB rows carry the VNI as NDA_SRC_VNI. Its VNIs would map to
/// VLANs of a VLAN-aware bridge (`vlan`, `bridge`); this kernel has no bridge VLAN
/// filtering, so that mapping is not discovered yet and such VNIs have no bridge/SVI.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct VniBinding {
    pub vni: Vni,
    pub vxlan: u32,
    pub bridge: Option<u32>,
    pub vlan: Option<u16>,
    pub external: bool,
}

/// The VXLAN topology found in the kernel.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Topology {
    pub bridges: BTreeMap<u32, Bridge>,
    pub vxlans: BTreeMap<u32, VxlanDevice>,
    pub ports: BTreeMap<u32, BridgePort>,
    /// VNIs of `external vnifilter` devices (from their VNI filter).
    pub filtered: BTreeMap<Vni, VniBinding>,
}

impl Topology {
    /// Where a VNI lives, if some VXLAN device carries it.
    pub fn binding(&self, vni: Vni) -> Option<VniBinding> {
        if let Some(b) = self.filtered.get(&vni) {
            return Some(*b);
        }
        self.vxlans
            .values()
            .find(|d| d.vni == Some(vni))
            .map(|d| VniBinding {
                vni,
                vxlan: d.ifindex,
                bridge: d.master.filter(|m| self.bridges.contains_key(m)),
                vlan: None,
                external: false,
            })
    }

    /// All VNIs present, with their bindings.
    pub fn vnis(&self) -> BTreeMap<Vni, VniBinding> {
        let mut out = self.filtered.clone();
        for d in self.vxlans.values() {
            if let Some(vni) = d.vni {
                out.entry(vni).or_insert(VniBinding {
                    vni,
                    vxlan: d.ifindex,
                    bridge: d.master.filter(|m| self.bridges.contains_key(m)),
                    vlan: None,
                    external: false,
                });
            }
        }
        out
    }

    /// The VNI whose bridge `bridge_ifindex` is (classic layout: the bridge holds exactly
    /// one VXLAN device).
    pub fn vni_of_bridge(&self, bridge_ifindex: u32) -> Option<Vni> {
        self.vxlans
            .values()
            .find(|d| d.master == Some(bridge_ifindex))
            .and_then(|d| d.vni)
    }

    /// The VNI of a classic VXLAN device.
    pub fn vni_of_vxlan(&self, ifindex: u32) -> Option<Vni> {
        self.vxlans.get(&ifindex).and_then(|d| d.vni)
    }

    /// The VNI of an FDB row on VXLAN device `ifindex`: the device's own for a classic
    /// device, the row's NDA_SRC_VNI for an external one (if that VNI is filtered in).
    pub fn vni_of_row(&self, ifindex: u32, src_vni: Option<u32>) -> Option<Vni> {
        let d = self.vxlans.get(&ifindex)?;
        if !d.external {
            return d.vni;
        }
        let vni = Vni(src_vni?);
        self.filtered
            .get(&vni)
            .filter(|b| b.vxlan == ifindex)
            .map(|b| b.vni)
    }
}

/// Everything one dump of the kernel tells.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Snapshot {
    pub topology: Topology,
    /// Remote state evpnd owns (see `reconcile` for how ownership is told).
    pub owned: FibState,
    pub foreign: ForeignState,
    pub local: LocalState,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_text_round_trip_and_rejects() {
        let m: Mac = "aa:bb:cc:00:01:ff".parse().unwrap();
        assert_eq!(m.0, [0xaa, 0xbb, 0xcc, 0, 1, 0xff]);
        assert_eq!(m.to_string(), "aa:bb:cc:00:01:ff");
        assert!("aa:bb:cc:00:01".parse::<Mac>().is_err());
        assert!("aa:bb:cc:00:01:ff:00".parse::<Mac>().is_err());
        assert!("aa:bb:cc:00:01:gg".parse::<Mac>().is_err());
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"aa:bb:cc:00:01:ff\"");
        assert_eq!(Mac::from_slice(&[1, 2, 3]), None);
    }

    #[test]
    fn binding_of_classic_device() {
        let mut t = Topology::default();
        t.bridges.insert(
            5,
            Bridge {
                name: "br100".into(),
                ifindex: 5,
                mac: None,
                up: true,
                addrs: vec![],
            },
        );
        t.vxlans.insert(
            6,
            VxlanDevice {
                name: "vxlan100".into(),
                ifindex: 6,
                vni: Some(Vni(100)),
                local: None,
                dstport: 4789,
                learning: false,
                external: false,
                vnifilter: false,
                master: Some(5),
                up: true,
            },
        );
        let b = t.binding(Vni(100)).unwrap();
        assert_eq!((b.vxlan, b.bridge, b.vlan), (6, Some(5), None));
        assert_eq!(t.binding(Vni(200)), None);
        assert_eq!(t.vni_of_bridge(5), Some(Vni(100)));
        assert_eq!(t.vnis().len(), 1);
    }
}
