//! MAC mobility (RFC 7432 section 15) and duplicate address detection, per (VNI, MAC).
//!
//! Entries exist only for MACs that are (or were recently) local: a remote-only MAC needs
//! no state here, its best remote route is looked up when the MAC is learned locally.
//!
//! Rules:
//! - A MAC learned locally while a remote route for it exists has moved here: advertise
//!   it with sequence = remote sequence + 1.
//! - A remote route with a higher sequence than ours, or the same sequence from a lower
//!   VTEP address, means the host moved away: withdraw ours and tell the daemon
//!   ([`Event::MacMovedAway`]). The remote entry then enters the desired state marked
//!   `supersede_local`, and `fib` replaces the stale local FDB row with it, as FRR's
//!   zebra does.
//! - Sticky (static) MACs never move: a remote sticky MAC beats a local non-sticky one, a
//!   local sticky MAC beats a remote non-sticky one, two sticky ones are a configuration
//!   error reported once ([`Event::StickyConflict`]); ours stays advertised.
//! - Duplicate address detection (FRR's `dup-addr-detection`): each move (either way)
//!   counts; when `max_moves` moves happen within `window` of the first counted one, the
//!   MAC is frozen: the move that reached the limit is not acted on, nothing mobility
//!   decides for it changes the advertisement until [`MobilityTable::clear`], and
//!   [`Event::DuplicateMac`] is reported once. A local MAC that disappears is still
//!   withdrawn while frozen (a host that left is never advertised).
//!
//! Time is passed in as a monotonic [`Duration`] since any fixed origin.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use fib::FdbKey;
use serde::{Deserialize, Serialize};

use crate::config::DadConfig;
use crate::route::Mobility;

/// The best remote route for a MAC, as the import side sees it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RemoteBest {
    pub vtep: IpAddr,
    pub mobility: Mobility,
}

/// Something the daemon should log or act on.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The MAC moved to `vtep` (higher sequence, tie lost, or a remote static MAC): our
    /// route is withdrawn, and the remote entry (marked `supersede_local` in the desired
    /// state) replaces the local FDB row when fib reconciles: the daemon only logs this.
    MacMovedAway {
        key: FdbKey,
        vtep: IpAddr,
        sequence: u32,
        sticky: bool,
    },
    /// Duplicate address detected: `moves` moves within the window; frozen until cleared.
    DuplicateMac { key: FdbKey, moves: u32 },
    /// Both we and `vtep` have this MAC as static (sticky).
    StickyConflict { key: FdbKey, vtep: IpAddr },
}

/// What triggered an evaluation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Trigger {
    /// The kernel (re)learned the MAC on a local port.
    LocalLearn,
    /// The best remote route changed.
    Remote,
    /// Operator cleared duplicate detection.
    Clear,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
struct Dad {
    count: u32,
    first: Duration,
    frozen: bool,
}

/// Mobility state of one (VNI, MAC).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct MacState {
    /// Present locally: `Some(sticky)`.
    pub local: Option<bool>,
    /// Our sequence number for this MAC (kept after a move away: the next move back
    /// must beat the remote one anyway).
    pub sequence: u32,
    /// What we advertise for it now (`None`: nothing).
    pub advertised: Option<Mobility>,
    /// Local, but a remote route won (host moved away or remote static MAC).
    pub superseded: bool,
    sticky_conflict: bool,
    dad: Dad,
}

impl MacState {
    pub fn frozen(&self) -> bool {
        self.dad.frozen
    }

    pub fn moves(&self) -> u32 {
        self.dad.count
    }
}

/// Mobility state of all local MACs.
#[derive(Clone, Debug, Default)]
pub struct MobilityTable {
    dad: DadConfig,
    macs: HashMap<FdbKey, MacState>,
}

impl MobilityTable {
    pub fn new(dad: DadConfig) -> Self {
        Self {
            dad,
            macs: HashMap::new(),
        }
    }

    pub fn get(&self, key: &FdbKey) -> Option<&MacState> {
        self.macs.get(key)
    }

    /// What we advertise for `key` (`None`: no route).
    pub fn advertised(&self, key: &FdbKey) -> Option<Mobility> {
        self.macs.get(key).and_then(|m| m.advertised)
    }

    /// Whether a remote route won over our local entry.
    pub fn superseded(&self, key: &FdbKey) -> bool {
        self.macs.get(key).is_some_and(|m| m.superseded)
    }

    /// Frozen (duplicate) MACs.
    pub fn duplicates(&self) -> impl Iterator<Item = (&FdbKey, &MacState)> {
        self.macs.iter().filter(|(_, m)| m.dad.frozen)
    }

    /// The kernel learned (or re-reported) `key` on a local port.
    pub fn local_learned(
        &mut self,
        key: FdbKey,
        sticky: bool,
        remote: Option<RemoteBest>,
        our_vtep: IpAddr,
        now: Duration,
        events: &mut Vec<Event>,
    ) {
        let m = self.macs.entry(key).or_default();
        m.local = Some(sticky);
        evaluate(
            &self.dad,
            key,
            m,
            remote,
            our_vtep,
            Trigger::LocalLearn,
            now,
            events,
        );
    }

    /// The local entry is gone (aged out, port down, deleted): nothing to advertise. The
    /// entry stays while duplicate detection still counts its moves.
    pub fn local_removed(&mut self, key: FdbKey, now: Duration) {
        let window = Duration::from_secs(self.dad.window_secs);
        if let Some(m) = self.macs.get_mut(&key) {
            m.local = None;
            m.advertised = None;
            m.superseded = false;
            m.sticky_conflict = false;
            if !m.dad.frozen && (m.dad.count == 0 || now.saturating_sub(m.dad.first) > window) {
                self.macs.remove(&key);
            }
        }
    }

    /// The best remote route for `key` changed (or went away).
    pub fn remote_changed(
        &mut self,
        key: FdbKey,
        remote: Option<RemoteBest>,
        our_vtep: IpAddr,
        now: Duration,
        events: &mut Vec<Event>,
    ) {
        if let Some(m) = self.macs.get_mut(&key) {
            if m.local.is_some() {
                evaluate(
                    &self.dad,
                    key,
                    m,
                    remote,
                    our_vtep,
                    Trigger::Remote,
                    now,
                    events,
                );
            }
        }
    }

    /// Clears duplicate detection for `key` and decides afresh against the best remote
    /// route by the usual comparison (a clear is not a move). Returns whether it was frozen.
    pub fn clear(
        &mut self,
        key: FdbKey,
        remote: Option<RemoteBest>,
        our_vtep: IpAddr,
        now: Duration,
        events: &mut Vec<Event>,
    ) -> bool {
        let Some(m) = self.macs.get_mut(&key) else {
            return false;
        };
        if !m.dad.frozen {
            return false;
        }
        m.dad = Dad::default();
        if m.local.is_some() {
            evaluate(
                &self.dad,
                key,
                m,
                remote,
                our_vtep,
                Trigger::Clear,
                now,
                events,
            );
        } else {
            self.macs.remove(&key);
        }
        true
    }

    /// Drops entries of MACs no longer local whose detection window has passed.
    pub fn prune(&mut self, now: Duration) {
        let window = Duration::from_secs(self.dad.window_secs);
        self.macs.retain(|_, m| {
            m.local.is_some() || m.dad.frozen || now.saturating_sub(m.dad.first) <= window
        });
    }
}

/// Decides what to advertise for a local MAC. Only called while the MAC is local.
#[allow(clippy::too_many_arguments)]
fn evaluate(
    dad: &DadConfig,
    key: FdbKey,
    m: &mut MacState,
    remote: Option<RemoteBest>,
    our_vtep: IpAddr,
    trigger: Trigger,
    now: Duration,
    events: &mut Vec<Event>,
) {
    let Some(local_sticky) = m.local else {
        return;
    };
    if m.dad.frozen {
        return;
    }
    let before = *m;
    let fresh = m.advertised.is_none() || m.superseded;
    let mut moved = false;
    let mut moved_away = None;
    match remote {
        None => {
            m.superseded = false;
            m.sticky_conflict = false;
        }
        Some(r) if r.mobility.sticky && local_sticky => {
            if !m.sticky_conflict {
                events.push(Event::StickyConflict { key, vtep: r.vtep });
            }
            m.sticky_conflict = true;
            m.superseded = false;
            m.sequence = m.sequence.max(r.mobility.sequence);
        }
        Some(r) if r.mobility.sticky => {
            if !m.superseded {
                moved_away = Some(r);
            }
        }
        Some(_) if local_sticky => {
            // Static here: the remote non-sticky route loses by rule, no need to outbid it.
            m.superseded = false;
        }
        Some(r) => {
            let rseq = r.mobility.sequence;
            if trigger == Trigger::LocalLearn && fresh {
                // The host is here now.
                if rseq >= m.sequence {
                    m.sequence = rseq.saturating_add(1);
                }
                m.superseded = false;
                moved = trigger == Trigger::LocalLearn;
            } else if m.superseded {
                // The host is over there; only a new local learn (or the remote route
                // going away) brings it back.
            } else {
                let ours = m.sequence;
                let remote_wins = rseq > ours || (rseq == ours && r.vtep < our_vtep);
                if remote_wins {
                    if !m.superseded {
                        moved_away = Some(r);
                    }
                    m.sequence = m.sequence.max(rseq);
                } else {
                    m.superseded = false;
                }
            }
        }
    }
    if let Some(r) = moved_away {
        m.superseded = true;
        m.sequence = m.sequence.max(r.mobility.sequence);
        moved = trigger != Trigger::Clear;
        events.push(Event::MacMovedAway {
            key,
            vtep: r.vtep,
            sequence: r.mobility.sequence,
            sticky: r.mobility.sticky,
        });
    }
    m.advertised = (!m.superseded).then_some(Mobility {
        sequence: m.sequence,
        sticky: local_sticky,
    });
    if moved && dad.enabled && count_move(dad, &mut m.dad, now) {
        // The move that reached the limit is not acted on (FRR stops informing BGP).
        let moves = m.dad.count;
        let dad_state = m.dad;
        *m = before;
        m.dad = dad_state;
        if let Some(Event::MacMovedAway { key: k, .. }) = events.last() {
            if *k == key {
                events.pop();
            }
        }
        events.push(Event::DuplicateMac { key, moves });
    }
}

/// Counts one move; true when it makes the MAC a duplicate (FRR's rule: the window starts
/// at the first counted move and restarts when a move comes after it has passed).
fn count_move(cfg: &DadConfig, d: &mut Dad, now: Duration) -> bool {
    let window = Duration::from_secs(cfg.window_secs);
    if d.count == 0 || now.saturating_sub(d.first) > window {
        d.count = 0;
        d.first = now;
    }
    d.count += 1;
    if d.count >= cfg.max_moves.max(1) {
        d.frozen = true;
        return true;
    }
    false
}

#[cfg(test)]
mod tests;
