//! The VNI filter of `external vnifilter` VXLAN devices (one device, many VNIs), read
//! with RTM_GETTUNNEL, which netlink-packet-route does not model:
//!
//! ```text
//!  struct tunnel_msg { u8 family (AF_BRIDGE); u8 flags; u16 reserved; u32 ifindex; }
//!  VXLAN_VNIFILTER_ENTRY (nested)
//!    VXLAN_VNIFILTER_ENTRY_START u32, VXLAN_VNIFILTER_ENTRY_END u32 (absent: one VNI)
//! ```

use crate::error::FibError;
use crate::model::Vni;

use super::socket::RequestSocket;

const RTM_NEWTUNNEL: u16 = 120;
const RTM_GETTUNNEL: u16 = 122;
const AF_BRIDGE: u8 = 7;
const VXLAN_VNIFILTER_ENTRY: u16 = 1;
const ENTRY_START: u16 = 1;
const ENTRY_END: u16 = 2;
const NLA_TYPE_MASK: u16 = 0x3fff;
/// More VNIs than this in one range is not a configuration, it is garbage.
const MAX_RANGE: u32 = 1 << 16;

/// Walks netlink attributes: (type without flag bits, value).
fn attrs(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = usize::from(u16::from_ne_bytes([*b.first()?, *b.get(1)?]));
        let ty = u16::from_ne_bytes([*b.get(2)?, *b.get(3)?]) & NLA_TYPE_MASK;
        let value = b.get(4..len)?;
        b = b.get((len + 3) & !3..).unwrap_or(&[]);
        Some((ty, value))
    })
}

fn u32_of(v: &[u8]) -> Option<u32> {
    <[u8; 4]>::try_from(v.get(..4)?)
        .ok()
        .map(u32::from_ne_bytes)
}

/// (device ifindex, VNI) pairs of one RTM_NEWTUNNEL body.
pub fn parse(body: &[u8], out: &mut Vec<(u32, Vni)>) {
    let (Some(&family), Some(ifindex)) = (body.first(), body.get(4..8).and_then(u32_of)) else {
        return;
    };
    if family != AF_BRIDGE {
        return;
    }
    for (ty, entry) in attrs(body.get(8..).unwrap_or(&[])) {
        if ty != VXLAN_VNIFILTER_ENTRY {
            continue;
        }
        let (mut start, mut end) = (None, None);
        for (t, v) in attrs(entry) {
            match t {
                ENTRY_START => start = u32_of(v),
                ENTRY_END => end = u32_of(v),
                _ => {}
            }
        }
        let Some(start) = start else { continue };
        let end = end.unwrap_or(start);
        if end < start || end - start > MAX_RANGE {
            continue;
        }
        out.extend((start..=end).map(|v| (ifindex, Vni(v))));
    }
}

/// All (device, VNI) pairs of all VNI-filtering devices.
pub fn dump(sock: &mut RequestSocket) -> Result<Vec<(u32, Vni)>, FibError> {
    let req = [AF_BRIDGE, 0, 0, 0, 0, 0, 0, 0];
    let mut out = Vec::new();
    sock.dump_raw(RTM_GETTUNNEL, &req, |ty, body| {
        if ty == RTM_NEWTUNNEL {
            parse(body, &mut out);
        }
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nla(ty: u16, value: &[u8]) -> Vec<u8> {
        let mut v = ((4 + value.len()) as u16).to_ne_bytes().to_vec();
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(value);
        while !v.len().is_multiple_of(4) {
            v.push(0);
        }
        v
    }

    #[test]
    fn parses_ranges_and_single_vnis_and_ignores_garbage() {
        let mut body = vec![AF_BRIDGE, 0, 0, 0];
        body.extend_from_slice(&9u32.to_ne_bytes());
        let range = [
            nla(ENTRY_START, &100u32.to_ne_bytes()),
            nla(ENTRY_END, &102u32.to_ne_bytes()),
        ]
        .concat();
        body.extend(nla(VXLAN_VNIFILTER_ENTRY | 0x8000, &range));
        body.extend(nla(
            VXLAN_VNIFILTER_ENTRY | 0x8000,
            &nla(ENTRY_START, &200u32.to_ne_bytes()),
        ));
        let backwards = [
            nla(ENTRY_START, &5u32.to_ne_bytes()),
            nla(ENTRY_END, &1u32.to_ne_bytes()),
        ]
        .concat();
        body.extend(nla(VXLAN_VNIFILTER_ENTRY, &backwards));
        body.extend([0xff, 0xff]); // truncated trailer
        let mut out = Vec::new();
        parse(&body, &mut out);
        assert_eq!(
            out,
            [(9, Vni(100)), (9, Vni(101)), (9, Vni(102)), (9, Vni(200))]
        );
        let mut none = Vec::new();
        parse(&[AF_BRIDGE, 0], &mut none);
        assert!(none.is_empty());
    }
}
