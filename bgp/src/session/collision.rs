//! Connection collision detection (RFC 4271 section 6.8, RFC 6286 section 2.3).
//!
//! When both speakers open a TCP connection at the same time there are two connections
//! for one peer. The daemon runs one `Session` per connection; once an OPEN has told it
//! the peer's BGP identifier it calls [`resolve`], and feeds `Input::OpenCollisionDump`
//! to the session it must close (which sends Cease 6/7 and goes Idle for good).

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::event::State;

/// Who opened a TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Initiator {
    /// We connected out (TcpCRAcked).
    Local,
    /// The peer connected to us (TcpConnectionConfirmed).
    Remote,
}

/// The connection to keep: the one initiated by the speaker with the higher BGP
/// identifier (compared as unsigned 32-bit integers); with equal identifiers (legal for
/// eBGP, RFC 6286) the one initiated by the speaker with the larger AS.
pub fn keep(local_id: Ipv4Addr, local_as: u32, remote_id: Ipv4Addr, remote_as: u32) -> Initiator {
    let (l, r) = (u32::from(local_id), u32::from(remote_id));
    if l > r || (l == r && local_as > remote_as) {
        Initiator::Local
    } else {
        Initiator::Remote
    }
}

/// One of the two connections, as the daemon sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection {
    pub initiator: Initiator,
    pub state: State,
}

/// Which connection to close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// No collision to resolve (yet): keep both until an OPEN arrives.
    None,
    /// Close the connection that existed first.
    CloseExisting,
    /// Close the connection that came second.
    CloseNew,
}

/// Decide a collision between the `existing` connection and a `new` one for the same
/// peer, once the peer's identifier is known (from an OPEN on either).
///
/// - existing Established: the new one is closed (RFC 4271 6.8: collisions with an
///   Established connection are not resolved by identifier unless configured to).
/// - existing in OpenSent or OpenConfirm, or the new one there: by identifier.
/// - otherwise (existing still Idle/Connect/Active): no collision; the new connection
///   simply becomes the session's connection.
pub fn resolve(
    existing: Connection,
    new: Connection,
    local_id: Ipv4Addr,
    local_as: u32,
    remote_id: Option<Ipv4Addr>,
    remote_as: u32,
) -> Resolution {
    if existing.state == State::Established {
        return Resolution::CloseNew;
    }
    if new.state == State::Established {
        return Resolution::CloseExisting;
    }
    let opening = |s: State| matches!(s, State::OpenSent | State::OpenConfirm);
    if !opening(existing.state) || !opening(new.state) {
        return Resolution::None;
    }
    let Some(remote_id) = remote_id else {
        return Resolution::None;
    };
    if existing.initiator == new.initiator {
        // Two connections in the same direction are not a collision the RFC resolves;
        // keep the older one.
        return Resolution::CloseNew;
    }
    if keep(local_id, local_as, remote_id, remote_as) == existing.initiator {
        Resolution::CloseNew
    } else {
        Resolution::CloseExisting
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LO: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const HI: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    fn c(initiator: Initiator, state: State) -> Connection {
        Connection { initiator, state }
    }

    #[test]
    fn higher_identifier_keeps_its_own_connection() {
        assert_eq!(keep(HI, 65001, LO, 65002), Initiator::Local);
        assert_eq!(keep(LO, 65001, HI, 65002), Initiator::Remote);
        // Compared as integers, not text: 10.0.0.10 > 10.0.0.9.
        assert_eq!(
            keep(
                Ipv4Addr::new(10, 0, 0, 10),
                1,
                Ipv4Addr::new(10, 0, 0, 9),
                2
            ),
            Initiator::Local
        );
    }

    #[test]
    fn equal_identifiers_fall_back_to_as_number() {
        assert_eq!(keep(LO, 65002, LO, 65001), Initiator::Local);
        assert_eq!(keep(LO, 65001, LO, 65002), Initiator::Remote);
    }

    #[test]
    fn resolve_both_ways() {
        // We have the higher id: keep the connection we initiated.
        let ours = c(Initiator::Local, State::OpenConfirm);
        let theirs = c(Initiator::Remote, State::OpenConfirm);
        assert_eq!(
            resolve(ours, theirs, HI, 1, Some(LO), 2),
            Resolution::CloseNew
        );
        assert_eq!(
            resolve(theirs, ours, HI, 1, Some(LO), 2),
            Resolution::CloseExisting
        );
        // We have the lower id: keep the connection the peer initiated.
        assert_eq!(
            resolve(ours, theirs, LO, 1, Some(HI), 2),
            Resolution::CloseExisting
        );
        assert_eq!(
            resolve(theirs, ours, LO, 1, Some(HI), 2),
            Resolution::CloseNew
        );
        // OpenSent on the existing side counts once the id is known from the new OPEN.
        let ours_sent = c(Initiator::Local, State::OpenSent);
        assert_eq!(
            resolve(ours_sent, theirs, LO, 1, Some(HI), 2),
            Resolution::CloseExisting
        );
    }

    #[test]
    fn established_wins_and_early_states_are_no_collision() {
        let est = c(Initiator::Local, State::Established);
        let new = c(Initiator::Remote, State::OpenConfirm);
        assert_eq!(resolve(est, new, LO, 1, Some(HI), 2), Resolution::CloseNew);
        let connecting = c(Initiator::Local, State::Connect);
        assert_eq!(
            resolve(connecting, new, LO, 1, Some(HI), 2),
            Resolution::None
        );
        let sent = c(Initiator::Local, State::OpenSent);
        let new_sent = c(Initiator::Remote, State::OpenSent);
        assert_eq!(resolve(sent, new_sent, LO, 1, None, 2), Resolution::None);
    }
}
