//! ROUTE-REFRESH message (RFC 2918 section 3) and its enhanced form (RFC 7313 section 3.2),
//! where the old Reserved octet becomes the Message Subtype.

use bytes::{BufMut, BytesMut};
use nom::combinator::all_consuming;
use nom::Parser;
use serde::{Deserialize, Serialize};

use super::afi::{Afi, AfiSafi, Safi};
use super::parse::{be_u16, be_u8, PResult};

/// Message Subtype of RFC 7313 (the "Reserved" octet of RFC 2918).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteRefreshSubtype {
    /// 0: a normal route refresh request.
    Normal,
    /// 1: Beginning of Route Refresh (BoRR).
    BeginningOfRouteRefresh,
    /// 2: End of Route Refresh (EoRR).
    EndOfRouteRefresh,
    /// Any other value: RFC 7313 says to ignore the message; kept so it can be shown.
    Other(u8),
}

impl RouteRefreshSubtype {
    pub fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Normal,
            1 => Self::BeginningOfRouteRefresh,
            2 => Self::EndOfRouteRefresh,
            _ => Self::Other(v),
        }
    }

    pub fn to_u8(self) -> u8 {
        match self {
            Self::Normal => 0,
            Self::BeginningOfRouteRefresh => 1,
            Self::EndOfRouteRefresh => 2,
            Self::Other(v) => v,
        }
    }
}

/// ROUTE-REFRESH body.
///
/// ```text
///  0       7      15      23      31
/// +-------+-------+-------+-------+
/// |      AFI      | Subtype| SAFI |
/// +-------+-------+-------+-------+
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct RouteRefresh {
    pub family: AfiSafi,
    pub subtype: RouteRefreshSubtype,
}

impl RouteRefresh {
    pub fn new(family: AfiSafi, subtype: RouteRefreshSubtype) -> Self {
        Self { family, subtype }
    }

    /// Decodes the 4-octet body; `None` when it is not exactly 4 octets.
    pub fn decode(body: &[u8]) -> Option<Self> {
        let r: PResult<'_, _> = all_consuming((be_u16, be_u8, be_u8)).parse(body);
        let (_, (afi, st, safi)) = r.ok()?;
        Some(Self {
            family: AfiSafi::new(Afi::from_u16(afi), Safi::from_u8(safi)),
            subtype: RouteRefreshSubtype::from_u8(st),
        })
    }

    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u16(self.family.afi.to_u16());
        out.put_u8(self.subtype.to_u8());
        out.put_u8(self.family.safi.to_u8());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtypes_round_trip() {
        for (st, byte) in [
            (RouteRefreshSubtype::Normal, 0),
            (RouteRefreshSubtype::BeginningOfRouteRefresh, 1),
            (RouteRefreshSubtype::EndOfRouteRefresh, 2),
            (RouteRefreshSubtype::Other(9), 9),
        ] {
            let rr = RouteRefresh::new(AfiSafi::L2VPN_EVPN, st);
            let mut out = BytesMut::new();
            rr.encode(&mut out);
            assert_eq!(&out[..], &[0, 25, byte, 70]);
            assert_eq!(RouteRefresh::decode(&out), Some(rr));
        }
        assert_eq!(RouteRefresh::decode(&[0, 1, 0]), None);
        assert_eq!(RouteRefresh::decode(&[0, 1, 0, 1, 0]), None);
    }
}
