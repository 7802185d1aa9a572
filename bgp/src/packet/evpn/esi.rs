//! Typed views of the Ethernet Segment Identifier (RFC 7432 section 5).
//!
//! ```text
//! +---+---+---+---+---+---+---+---+---+---+
//! | T |          ESI Value (9 octets)     |
//! +---+---+---+---+---+---+---+---+---+---+
//! ```

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::Esi;
use crate::packet::types::MacAddress;

/// What an ESI's type octet says its 9 value octets hold.
///
/// For types 1, 2, 4 and 5 the RFC sets the last octet to zero; `Esi::kind` does not look
/// at it, so `Esi::from(esi.kind())` equals `esi` only when it is zero.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EsiKind {
    /// Type 0: operator-configured value (all zero: a single-homed site).
    Arbitrary { value: [u8; 9] },
    /// Type 1: from the CE's IEEE 802.1AX LACP system MAC and port key.
    Lacp {
        system_mac: MacAddress,
        port_key: u16,
    },
    /// Type 2: from the root bridge of a CE's spanning tree.
    Bridge { root_mac: MacAddress, priority: u16 },
    /// Type 3: system MAC of the PE and a 3-octet local discriminator.
    Mac {
        system_mac: MacAddress,
        local_discriminator: u32,
    },
    /// Type 4: the PE's router ID and a 4-octet local discriminator.
    RouterId {
        router_id: Ipv4Addr,
        local_discriminator: u32,
    },
    /// Type 5: an AS number and a 4-octet local discriminator.
    As { asn: u32, local_discriminator: u32 },
    /// Any other type octet, kept as received.
    Other { esi_type: u8, value: [u8; 9] },
}

impl Esi {
    /// The all-zero ESI of a single-homed site.
    pub const ZERO: Esi = Esi([0; 10]);

    /// True for the reserved all-zero ESI (no multihoming).
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 10]
    }

    /// The ESI type octet.
    pub fn esi_type(&self) -> u8 {
        self.0[0]
    }

    /// The value decoded by type (RFC 7432 section 5).
    pub fn kind(&self) -> EsiKind {
        let [t, v @ ..] = self.0;
        let mac = MacAddress([v[0], v[1], v[2], v[3], v[4], v[5]]);
        let u16_at_6 = u16::from_be_bytes([v[6], v[7]]);
        let u32_at_0 = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
        let u32_at_4 = u32::from_be_bytes([v[4], v[5], v[6], v[7]]);
        match t {
            0 => EsiKind::Arbitrary { value: v },
            1 => EsiKind::Lacp {
                system_mac: mac,
                port_key: u16_at_6,
            },
            2 => EsiKind::Bridge {
                root_mac: mac,
                priority: u16_at_6,
            },
            3 => EsiKind::Mac {
                system_mac: mac,
                local_discriminator: u32::from_be_bytes([0, v[6], v[7], v[8]]),
            },
            4 => EsiKind::RouterId {
                router_id: Ipv4Addr::from(u32_at_0),
                local_discriminator: u32_at_4,
            },
            5 => EsiKind::As {
                asn: u32_at_0,
                local_discriminator: u32_at_4,
            },
            esi_type => EsiKind::Other { esi_type, value: v },
        }
    }
}

impl From<EsiKind> for Esi {
    /// Builds the ESI; a type-3 discriminator keeps its low 24 bits.
    fn from(k: EsiKind) -> Self {
        let mut b = [0u8; 10];
        match k {
            EsiKind::Arbitrary { value } => b[1..].copy_from_slice(&value),
            EsiKind::Lacp {
                system_mac: mac,
                port_key: n,
            }
            | EsiKind::Bridge {
                root_mac: mac,
                priority: n,
            } => {
                b[0] = if matches!(k, EsiKind::Lacp { .. }) {
                    1
                } else {
                    2
                };
                b[1..7].copy_from_slice(&mac.0);
                b[7..9].copy_from_slice(&n.to_be_bytes());
            }
            EsiKind::Mac {
                system_mac,
                local_discriminator,
            } => {
                b[0] = 3;
                b[1..7].copy_from_slice(&system_mac.0);
                b[7..10].copy_from_slice(&local_discriminator.to_be_bytes()[1..]);
            }
            EsiKind::RouterId {
                router_id,
                local_discriminator,
            } => {
                b[0] = 4;
                b[1..5].copy_from_slice(&router_id.octets());
                b[5..9].copy_from_slice(&local_discriminator.to_be_bytes());
            }
            EsiKind::As {
                asn,
                local_discriminator,
            } => {
                b[0] = 5;
                b[1..5].copy_from_slice(&asn.to_be_bytes());
                b[5..9].copy_from_slice(&local_discriminator.to_be_bytes());
            }
            EsiKind::Other { esi_type, value } => {
                b[0] = esi_type;
                b[1..].copy_from_slice(&value);
            }
        }
        Esi(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_rfc7432_layouts() {
        let cases: [(&str, EsiKind); 7] = [
            (
                "00:00:00:00:00:00:00:00:00:00",
                EsiKind::Arbitrary { value: [0; 9] },
            ),
            (
                "01:aa:bb:cc:dd:ee:ff:01:02:00",
                EsiKind::Lacp {
                    system_mac: "aa:bb:cc:dd:ee:ff".parse().unwrap(),
                    port_key: 0x0102,
                },
            ),
            (
                "02:00:11:22:33:44:55:80:00:00",
                EsiKind::Bridge {
                    root_mac: "00:11:22:33:44:55".parse().unwrap(),
                    priority: 0x8000,
                },
            ),
            (
                "03:44:38:39:ff:ff:01:00:00:01",
                EsiKind::Mac {
                    system_mac: "44:38:39:ff:ff:01".parse().unwrap(),
                    local_discriminator: 1,
                },
            ),
            (
                "04:0a:00:00:01:00:00:00:07:00",
                EsiKind::RouterId {
                    router_id: Ipv4Addr::new(10, 0, 0, 1),
                    local_discriminator: 7,
                },
            ),
            (
                "05:00:00:fd:e8:00:01:00:00:00",
                EsiKind::As {
                    asn: 65000,
                    local_discriminator: 0x0001_0000,
                },
            ),
            (
                "09:01:02:03:04:05:06:07:08:09",
                EsiKind::Other {
                    esi_type: 9,
                    value: [1, 2, 3, 4, 5, 6, 7, 8, 9],
                },
            ),
        ];
        for (text, kind) in cases {
            let esi: Esi = text.parse().unwrap();
            assert_eq!(esi.kind(), kind, "{text}");
            assert_eq!(Esi::from(kind), esi, "{text}");
            assert_eq!(esi.to_string(), text);
        }
        assert!(Esi::ZERO.is_zero());
        assert!(!"03:44:38:39:ff:ff:01:00:00:01"
            .parse::<Esi>()
            .unwrap()
            .is_zero());
    }

    #[test]
    fn kind_ignores_reserved_last_octet() {
        let esi: Esi = "01:aa:bb:cc:dd:ee:ff:01:02:99".parse().unwrap();
        assert_eq!(esi.esi_type(), 1);
        assert!(matches!(
            esi.kind(),
            EsiKind::Lacp {
                port_key: 0x0102,
                ..
            }
        ));
        assert_ne!(Esi::from(esi.kind()), esi);
    }
}
