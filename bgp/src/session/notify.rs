//! The NOTIFICATIONs the session itself originates (RFC 4271 section 4.5 and 6,
//! RFC 4486/8203/9003 Cease, RFC 6608 FSM error subcodes, RFC 8538 Hard Reset).
//! Errors found while decoding come ready-made from the codec (`MessageError::notification`).

use serde::{Deserialize, Serialize};

use super::wire::{Family, Notification};

pub const HOLD_TIMER_EXPIRED: u8 = 4;
pub const FSM_ERROR: u8 = 5;
pub const CEASE: u8 = 6;
pub const OPEN_MESSAGE_ERROR: u8 = 2;

/// OPEN Message Error subcodes (RFC 4271 6.2, RFC 5492).
pub mod open {
    pub const UNSUPPORTED_VERSION: u8 = 1;
    pub const BAD_PEER_AS: u8 = 2;
    pub const BAD_BGP_IDENTIFIER: u8 = 3;
    pub const UNACCEPTABLE_HOLD_TIME: u8 = 6;
    pub const UNSUPPORTED_CAPABILITY: u8 = 7;
}

/// Finite State Machine Error subcodes (RFC 6608).
pub mod fsm {
    pub const UNEXPECTED_IN_OPENSENT: u8 = 1;
    pub const UNEXPECTED_IN_OPENCONFIRM: u8 = 2;
    pub const UNEXPECTED_IN_ESTABLISHED: u8 = 3;
}

/// Cease subcodes (RFC 4486, RFC 8538).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[repr(u8)]
pub enum CeaseSubcode {
    MaxPrefixes = 1,
    AdministrativeShutdown = 2,
    PeerDeconfigured = 3,
    AdministrativeReset = 4,
    ConnectionRejected = 5,
    OtherConfigurationChange = 6,
    ConnectionCollisionResolution = 7,
    OutOfResources = 8,
    HardReset = 9,
}

/// RFC 8538 section 5: with the N-bit negotiated these Cease subcodes are sent inside a
/// Hard Reset so the peer flushes our routes instead of keeping them as stale.
pub fn cease_wants_hard_reset(subcode: u8) -> bool {
    use CeaseSubcode as C;
    [
        C::MaxPrefixes,
        C::AdministrativeShutdown,
        C::PeerDeconfigured,
        C::AdministrativeReset,
    ]
    .iter()
    .any(|c| *c as u8 == subcode)
}

pub fn notification(code: u8, subcode: u8, data: Vec<u8>) -> Notification {
    Notification {
        code,
        subcode,
        data,
    }
}

pub fn hold_timer_expired() -> Notification {
    notification(HOLD_TIMER_EXPIRED, 0, Vec::new())
}

pub fn fsm_error(subcode: u8) -> Notification {
    notification(FSM_ERROR, subcode, Vec::new())
}

pub fn cease(subcode: CeaseSubcode, data: Vec<u8>) -> Notification {
    notification(CEASE, subcode as u8, data)
}

/// RFC 8538 section 3: Hard Reset carries the original code, subcode and data.
pub fn hard_reset(inner: &Notification) -> Notification {
    let mut data = Vec::with_capacity(2 + inner.data.len());
    data.push(inner.code);
    data.push(inner.subcode);
    data.extend_from_slice(&inner.data);
    cease(CeaseSubcode::HardReset, data)
}

/// RFC 9003 Shutdown Communication: a length octet then UTF-8, at most 255 bytes; cut at
/// a character boundary rather than send invalid UTF-8.
pub fn shutdown_communication(msg: &str) -> Vec<u8> {
    let mut end = msg.len().min(255);
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    let mut data = Vec::with_capacity(end + 1);
    // end <= 255 by construction.
    data.push(u8::try_from(end).unwrap_or(u8::MAX));
    data.extend_from_slice(&msg.as_bytes()[..end]);
    data
}

/// RFC 4486 section 4: Max Prefixes data is AFI (2), SAFI (1), prefix upper bound (4).
pub fn max_prefixes(family: Family, limit: u32) -> Notification {
    let mut data = Vec::with_capacity(7);
    data.extend_from_slice(&family.afi.to_be_bytes());
    data.push(family.safi);
    data.extend_from_slice(&limit.to_be_bytes());
    cease(CeaseSubcode::MaxPrefixes, data)
}

/// True for a Hard Reset (6/9), the one NOTIFICATION that ends GR even with the N-bit.
pub fn is_hard_reset(n: &Notification) -> bool {
    n.code == CEASE && n.subcode == CeaseSubcode::HardReset as u8
}

/// A short human text for logs and `show bgp neighbor` ("Cease/Administrative Shutdown").
pub fn describe(n: &Notification) -> String {
    let code = match n.code {
        1 => "Message Header Error",
        2 => "OPEN Message Error",
        3 => "UPDATE Message Error",
        4 => "Hold Timer Expired",
        5 => "Finite State Machine Error",
        6 => "Cease",
        7 => "ROUTE-REFRESH Message Error",
        _ => "Unknown",
    };
    format!("{code} ({}/{})", n.code, n.subcode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shutdown_communication_is_length_prefixed_and_cut_on_char_boundary() {
        assert_eq!(shutdown_communication("bye"), b"\x03bye".to_vec());
        let long = "é".repeat(200); // 400 bytes of 2-byte chars
        let d = shutdown_communication(&long);
        assert_eq!(d[0], 254);
        assert_eq!(d.len(), 255);
        assert!(std::str::from_utf8(&d[1..]).is_ok());
    }

    #[test]
    fn max_prefix_data_is_afi_safi_limit() {
        let n = max_prefixes(Family::L2VPN_EVPN, 1000);
        assert_eq!((n.code, n.subcode), (6, 1));
        assert_eq!(n.data, vec![0, 25, 70, 0, 0, 0x03, 0xe8]);
    }

    #[test]
    fn hard_reset_wraps_inner_notification() {
        let inner = cease(CeaseSubcode::AdministrativeReset, vec![0]);
        let n = hard_reset(&inner);
        assert_eq!((n.code, n.subcode, &n.data[..]), (6, 9, &[6u8, 4, 0][..]));
        assert!(is_hard_reset(&n));
    }
}
