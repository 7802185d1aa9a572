//! PMSI_TUNNEL attribute (RFC 6514 section 5, RFC 7432 section 11.2, RFC 8365 section 5.1.3).
//!
//!
//! ```text
//! +---------------------------------+
//! |  Flags (1 octet)                |
//! +---------------------------------+
//! |  Tunnel Type (1 octet)          |
//! +---------------------------------+
//! |  MPLS Label (3 octets)          |
//! +---------------------------------+
//! |  Tunnel Identifier (variable)   |
//! +---------------------------------+
//! ```
//!
//! On EVPN-VXLAN type-3 routes: flags 0, type 6 (ingress replication), label = VNI in all
//! 24 bits (RFC 8365 section 5.1.3), identifier = the VTEP address.

use std::net::IpAddr;

use bytes::{BufMut, BytesMut};
use nom::Parser;
use serde::{Deserialize, Serialize};

use super::parse::{be_u24, be_u8, ok_or};

/// Tunnel type 6: ingress replication (head-end replication for VXLAN).
pub const TUNNEL_INGRESS_REPLICATION: u8 = 6;

#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TunnelIdentifier {
    /// A tunnel endpoint address (ingress replication: the VTEP).
    Ip(IpAddr),
    /// Any other identifier, kept as received.
    Raw(Vec<u8>),
}

#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct PmsiTunnel {
    pub flags: u8,
    pub tunnel_type: u8,
    /// 24-bit label field; the VNI under RFC 8365.
    pub label: u32,
    pub tunnel_id: TunnelIdentifier,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("PMSI_TUNNEL length {0} is too short (minimum 5)")]
pub struct PmsiError(pub usize);

impl PmsiTunnel {
    /// Decodes the attribute value. Lossless: `encode(decode(v)) == v`.
    pub fn decode(value: &[u8]) -> Result<Self, PmsiError> {
        let (id, (flags, tunnel_type, label)) = ok_or((be_u8, be_u8, be_u24).parse(value), || {
            PmsiError(value.len())
        })?;
        // Only an ingress-replication identifier of address size is an address; anything
        // else stays raw so the round trip is exact.
        let tunnel_id = if tunnel_type != TUNNEL_INGRESS_REPLICATION {
            TunnelIdentifier::Raw(id.to_vec())
        } else if let Ok(v4) = <[u8; 4]>::try_from(id) {
            TunnelIdentifier::Ip(IpAddr::from(v4))
        } else if let Ok(v6) = <[u8; 16]>::try_from(id) {
            TunnelIdentifier::Ip(IpAddr::from(v6))
        } else {
            TunnelIdentifier::Raw(id.to_vec())
        };
        Ok(PmsiTunnel {
            flags,
            tunnel_type,
            label,
            tunnel_id,
        })
    }

    /// Appends the attribute value (not the attribute header). The label keeps its low
    /// 24 bits.
    pub fn encode(&self, out: &mut BytesMut) {
        out.reserve(self.encoded_len());
        out.put_u8(self.flags);
        out.put_u8(self.tunnel_type);
        out.put_slice(&self.label.to_be_bytes()[1..]);
        match &self.tunnel_id {
            TunnelIdentifier::Ip(IpAddr::V4(a)) => out.put_slice(&a.octets()),
            TunnelIdentifier::Ip(IpAddr::V6(a)) => out.put_slice(&a.octets()),
            TunnelIdentifier::Raw(b) => out.put_slice(b),
        }
    }

    /// Length of the encoded value: 9 for an IPv4 VTEP, 21 for IPv6.
    pub fn encoded_len(&self) -> usize {
        5 + match &self.tunnel_id {
            TunnelIdentifier::Ip(IpAddr::V4(_)) => 4,
            TunnelIdentifier::Ip(IpAddr::V6(_)) => 16,
            TunnelIdentifier::Raw(b) => b.len(),
        }
    }

    /// What FRR and GoBGP attach to a type-3 route: flags 0, ingress replication,
    /// label = `vni` (low 24 bits), identifier = `vtep`.
    pub fn ingress_replication(vni: u32, vtep: IpAddr) -> Self {
        PmsiTunnel {
            flags: 0,
            tunnel_type: TUNNEL_INGRESS_REPLICATION,
            label: vni & 0x00ff_ffff,
            tunnel_id: TunnelIdentifier::Ip(vtep),
        }
    }

    /// The VNI carried in the label field (all 24 bits, RFC 8365).
    pub fn vni(&self) -> u32 {
        self.label & 0x00ff_ffff
    }

    /// The VTEP, for ingress replication with an address identifier.
    pub fn vtep(&self) -> Option<IpAddr> {
        match (&self.tunnel_id, self.tunnel_type) {
            (TunnelIdentifier::Ip(ip), TUNNEL_INGRESS_REPLICATION) => Some(*ip),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(p: &PmsiTunnel) -> Vec<u8> {
        let mut b = BytesMut::new();
        p.encode(&mut b);
        b.to_vec()
    }

    #[test]
    fn ingress_replication_ipv4_as_frr_sends_it() {
        // flags 0, type 6, label = VNI 100 in all 24 bits, VTEP 10.0.0.1 (length 9).
        let wire = [0, 6, 0x00, 0x00, 0x64, 10, 0, 0, 1];
        let p = PmsiTunnel::decode(&wire).unwrap();
        assert_eq!(
            p,
            PmsiTunnel::ingress_replication(100, "10.0.0.1".parse().unwrap())
        );
        assert_eq!(p.vni(), 100);
        assert_eq!(p.vtep(), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(p.encoded_len(), 9);
        assert_eq!(enc(&p), wire);
    }

    #[test]
    fn ingress_replication_ipv6() {
        let vtep: IpAddr = "2001:db8::1".parse().unwrap();
        let p = PmsiTunnel::ingress_replication(0x00ab_cdef, vtep);
        let wire = enc(&p);
        assert_eq!(wire.len(), 21);
        assert_eq!(&wire[..5], &[0, 6, 0xab, 0xcd, 0xef]);
        assert_eq!(PmsiTunnel::decode(&wire).unwrap(), p);
    }

    #[test]
    fn other_identifiers_stay_raw_and_round_trip() {
        for wire in [
            vec![0x80, 6, 0, 0, 1],                         // ingress replication, no id
            vec![0, 6, 0, 0, 1, 10, 0, 0],                  // 3-octet id: not an address
            vec![0, 3, 0, 1, 0, 10, 0, 0, 1, 232, 1, 1, 1], // PIM-SM tree: (S,G)
            vec![1, 7, 0xff, 0xff, 0xff, 1, 2, 3, 4],       // type 7 with 4 octets: not IR
        ] {
            let p = PmsiTunnel::decode(&wire).unwrap();
            assert!(matches!(p.tunnel_id, TunnelIdentifier::Raw(_)), "{wire:?}");
            assert_eq!(p.vtep(), None);
            assert_eq!(enc(&p), wire);
        }
    }

    #[test]
    fn too_short() {
        for n in 0..5 {
            assert_eq!(PmsiTunnel::decode(&[0u8; 5][..n]), Err(PmsiError(n)));
        }
    }

    #[test]
    fn label_keeps_24_bits() {
        let p = PmsiTunnel::ingress_replication(0x0100_0064, "10.0.0.1".parse().unwrap());
        assert_eq!(p.vni(), 100);
        assert_eq!(&enc(&p)[2..5], &[0, 0, 0x64]);
    }
}
