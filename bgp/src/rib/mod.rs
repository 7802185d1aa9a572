//! The RIB: Adj-RIB-In per peer, Loc-RIB with the best path per route, Adj-RIB-Out per
//! peer, for L2VPN EVPN and IPv4 unicast. Sans-IO: decoded UPDATEs in, best-path changes
//! and packed UPDATE messages out; the session layer owns sockets and timers.
//!
//! ```text
//!  UPDATE from peer p ──► Rib::apply_update(p, &Update)
//!                           │ RFC 7606 verdict (treat-as-withdraw), loops.rs, eBGP LOCAL_PREF
//!                           ▼
//!                 attrs.rs: PathAttrs ──intern──► Interner<PathAttrs>  (one Arc per set)
//!                           ▼
//!                 table.rs: key -> [best path, other paths]   (best.rs orders them)
//!                           │ best changed
//!                           ├──► Changes (loc.rs)  ──► EVPN import (unless
//!                           │                            set_collect_changes(false))
//!                           └──► dirty keys of every Adj-RIB-Out that is up and
//!                                may be sent it (not its source, not non-client
//!                                to non-client)
//!                                              │
//!  Rib::drain(q, family, n) ◄──────────────────┘ adj_out.rs: export rules, diff against
//!       └─► packed UPDATEs (withdrawals first)              what q was sent, pack
//!                                                   (mrai.rs: advertisements wait for
//!                                                    q's minimum interval, if it has one)
//! ```
//!
//! Memory per EVPN route from one peer (measured by `benches/rib.rs` and
//! `tests/rib_memory.rs`): a 64-byte entry (37-byte key + 20-byte path + link) in a vector
//! plus 8-byte index buckets at most half full: 84 bytes/route at 1M routes, ~105 at 200k
//! (growth slack); attribute sets and non-key NLRI fields are shared.

pub mod adj_in;
pub mod adj_out;
pub mod attrs;
pub mod best;
pub mod family;
mod index;
pub mod intern;
pub mod loc;
pub mod loops;
pub mod mrai;
pub mod peer;
pub mod table;

use bytes::BytesMut;

pub use adj_out::{export_attrs, AdjOut};
pub use attrs::PathAttrs;
pub use best::{compare, BestPathConfig, Candidate, Source, Step};
pub use family::{EvpnExtra, RouteKey};
pub use intern::{Id, Interner};
pub use loc::{Change, ChangeKind, Changes, Route};
pub use loops::Loop;
pub use peer::{PeerConfig, PeerId, PeerStats, RibConfig, LOCAL};
pub use table::{Path, Table};

use crate::packet::evpn::EvpnRouteKey;
use crate::packet::{AfiSafi, EncodeError, Ipv4Prefix, Notification, Update, Verdict};

/// Why a RIB operation was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RibError {
    #[error("no peer with index {0}")]
    UnknownPeer(PeerId),
    #[error("peer index {0} is reserved or already in use")]
    PeerInUse(PeerId),
    #[error("family {0} is not kept by the RIB")]
    UnsupportedFamily(AfiSafi),
    /// The UPDATE's RFC 7606 verdict is a session reset: nothing was applied.
    #[error("UPDATE calls for a session reset")]
    SessionReset(Notification),
    #[error("cannot pack UPDATE: {0}")]
    Encode(#[from] EncodeError),
}

#[doc(hidden)]
pub struct PeerSlot {
    pub(crate) cfg: PeerConfig,
    pub(crate) stats: PeerStats,
}

/// What every family shares: identity, peers, the attribute interner.
#[doc(hidden)]
pub struct Core {
    pub(crate) cfg: RibConfig,
    pub(crate) peers: Vec<Option<PeerSlot>>,
    pub(crate) attrs: Interner<PathAttrs>,
    /// The caller's clock in seconds (sans-IO: the RIB never reads time itself).
    pub(crate) clock: u32,
    /// The same clock in milliseconds (minimum advertisement intervals).
    pub(crate) now_ms: u64,
    /// Hand Loc-RIB changes out as [`Change`]s (see [`Rib::set_collect_changes`]).
    pub(crate) collect_changes: bool,
}

impl Core {
    pub(crate) fn peer(&self, id: PeerId) -> Result<&PeerSlot, RibError> {
        self.peers
            .get(usize::from(id))
            .and_then(Option::as_ref)
            .ok_or(RibError::UnknownPeer(id))
    }

    pub(crate) fn peer_mut(&mut self, id: PeerId) -> Result<&mut PeerSlot, RibError> {
        self.peers
            .get_mut(usize::from(id))
            .and_then(Option::as_mut)
            .ok_or(RibError::UnknownPeer(id))
    }
}

/// One family: its table and every peer's Adj-RIB-Out (indexed by peer).
pub struct FamilyRib<K: RouteKey> {
    pub(crate) table: Table<K>,
    pub(crate) out: Vec<AdjOut<K>>,
}

impl<K: RouteKey> Default for FamilyRib<K> {
    fn default() -> Self {
        Self {
            table: Table::default(),
            out: Vec::new(),
        }
    }
}

/// The families the RIB keeps, for generic code.
pub trait Family: RouteKey {
    #[doc(hidden)]
    fn parts(rib: &mut Rib) -> (&mut Core, &mut FamilyRib<Self>);
    #[doc(hidden)]
    fn of(rib: &Rib) -> &FamilyRib<Self>;
    #[doc(hidden)]
    fn changes(c: &mut Changes) -> &mut Vec<Change<Self>>;
}

impl Family for EvpnRouteKey {
    fn parts(rib: &mut Rib) -> (&mut Core, &mut FamilyRib<Self>) {
        (&mut rib.core, &mut rib.evpn)
    }
    fn of(rib: &Rib) -> &FamilyRib<Self> {
        &rib.evpn
    }
    fn changes(c: &mut Changes) -> &mut Vec<Change<Self>> {
        &mut c.evpn
    }
}

impl Family for Ipv4Prefix {
    fn parts(rib: &mut Rib) -> (&mut Core, &mut FamilyRib<Self>) {
        (&mut rib.core, &mut rib.ipv4)
    }
    fn of(rib: &Rib) -> &FamilyRib<Self> {
        &rib.ipv4
    }
    fn changes(c: &mut Changes) -> &mut Vec<Change<Self>> {
        &mut c.ipv4
    }
}

/// The whole RIB of one BGP speaker.
pub struct Rib {
    core: Core,
    evpn: FamilyRib<EvpnRouteKey>,
    ipv4: FamilyRib<Ipv4Prefix>,
}

impl Rib {
    pub fn new(cfg: RibConfig) -> Self {
        let mut local = PeerConfig::new(
            std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            cfg.local_as,
            cfg.router_id,
        );
        local.max_prefix = None;
        Self {
            core: Core {
                peers: vec![Some(PeerSlot {
                    cfg: local,
                    stats: PeerStats::default(),
                })],
                cfg,
                attrs: Interner::default(),
                clock: 0,
                now_ms: 0,
                collect_changes: true,
            },
            evpn: FamilyRib::default(),
            ipv4: FamilyRib::default(),
        }
    }

    pub fn config(&self) -> &RibConfig {
        &self.core.cfg
    }

    /// Whether operations return the Loc-RIB changes they made ([`Changes`], on by
    /// default). A speaker with no consumer for them (a spine or route reflector without
    /// an EVPN service) turns this off: the Adj-RIB-Outs are still marked and drained,
    /// max-prefix is still reported, but no [`Route`] (NLRI + attribute set) is built
    /// per change, and the change lists come back empty.
    pub fn set_collect_changes(&mut self, on: bool) {
        self.core.collect_changes = on;
    }

    /// Sets the clock (seconds, any epoch) stamped on paths received from now on, so that
    /// `Path::since` tells a route's age. The caller owns time; the RIB never reads it.
    pub fn set_clock(&mut self, secs: u32) {
        self.core.clock = secs;
        self.core.now_ms = u64::from(secs) * 1000;
    }

    /// [`Rib::set_clock`] in milliseconds: route ages keep whole seconds, minimum
    /// advertisement intervals (`PeerConfig::advertisement_interval`) use the milliseconds.
    pub fn set_clock_ms(&mut self, ms: u64) {
        self.core.clock = u32::try_from(ms / 1000).unwrap_or(u32::MAX);
        self.core.now_ms = ms;
    }

    /// Registers a peer at the first free index (never [`LOCAL`]).
    pub fn add_peer(&mut self, cfg: PeerConfig) -> PeerId {
        let slot = Some(PeerSlot {
            cfg,
            stats: PeerStats::default(),
        });
        let peers = &mut self.core.peers;
        match peers.iter().skip(1).position(Option::is_none) {
            Some(i) => {
                peers[i + 1] = slot;
                (i + 1) as PeerId
            }
            None => {
                peers.push(slot);
                (peers.len() - 1) as PeerId
            }
        }
    }

    /// Updates a peer's configuration (e.g. its router id once the OPEN is in).
    pub fn set_peer(&mut self, id: PeerId, cfg: PeerConfig) -> Result<(), RibError> {
        if id == LOCAL {
            return Err(RibError::PeerInUse(id));
        }
        self.core.peer_mut(id)?.cfg = cfg;
        Ok(())
    }

    /// Withdraws everything of `id` and forgets it; the index may be reused.
    pub fn remove_peer(&mut self, id: PeerId) -> Result<Changes, RibError> {
        let ch = self.peer_down(id)?;
        if id != LOCAL {
            if let Some(s) = self.core.peers.get_mut(usize::from(id)) {
                *s = None;
            }
        }
        Ok(ch)
    }

    pub fn peer_config(&self, id: PeerId) -> Result<&PeerConfig, RibError> {
        Ok(&self.core.peer(id)?.cfg)
    }

    pub fn stats(&self, id: PeerId) -> Result<PeerStats, RibError> {
        Ok(self.core.peer(id)?.stats)
    }

    /// Applies a received UPDATE. Its RFC 7606 verdict is honoured: treat-as-withdraw turns
    /// the reachable routes into withdrawals, a session reset applies nothing and returns
    /// the NOTIFICATION to send. End-of-RIB is the session layer's (see `sweep_stale`).
    pub fn apply_update(&mut self, peer: PeerId, u: &Update) -> Result<Changes, RibError> {
        if peer == LOCAL {
            return Err(RibError::PeerInUse(LOCAL));
        }
        self.core.peer(peer)?;
        let treat_as_withdraw = match u.verdict() {
            Verdict::SessionReset(n) => return Err(RibError::SessionReset(n)),
            Verdict::TreatAsWithdraw => {
                self.core.peer_mut(peer)?.stats.treated_as_withdraw += 1;
                true
            }
            Verdict::Accept | Verdict::AttributeDiscard { .. } => false,
        };
        let mut ch = Changes::default();
        self.apply_family::<EvpnRouteKey>(peer, u, treat_as_withdraw, &mut ch);
        self.apply_family::<Ipv4Prefix>(peer, u, treat_as_withdraw, &mut ch);
        Ok(ch)
    }

    fn apply_family<K: Family>(
        &mut self,
        peer: PeerId,
        u: &Update,
        treat_as_withdraw: bool,
        ch: &mut Changes,
    ) {
        let (core, fam) = K::parts(self);
        let tc = adj_in::apply(core, fam, peer, u, treat_as_withdraw);
        if tc.is_empty() {
            adj_in::settle(core, fam);
            return;
        }
        *K::changes(ch) = loc::publish(core, fam, tc);
        adj_in::settle(core, fam);
        let max = core.peer(peer).ok().and_then(|p| p.cfg.max_prefix);
        if max.is_some_and(|m| fam.table.peer_count(peer) > m) {
            ch.max_prefix_exceeded.push(K::FAMILY);
        }
    }

    /// Originates `routes` locally (peer [`LOCAL`]) with `attrs` (for EVPN, `next_hop` is
    /// our VTEP address).
    pub fn originate<K: Family>(&mut self, routes: &[K::Nlri], attrs: PathAttrs) -> Vec<Change<K>> {
        let (core, fam) = K::parts(self);
        let mut tc = Vec::new();
        adj_in::insert(core, fam, LOCAL, attrs, routes, &mut tc);
        let out = loc::publish(core, fam, tc);
        adj_in::settle(core, fam);
        out
    }

    /// Withdraws locally originated routes.
    pub fn withdraw_local<K: Family>(&mut self, keys: &[K]) -> Vec<Change<K>> {
        let (core, fam) = K::parts(self);
        let tc: Vec<_> = {
            let rank = core.ranker();
            keys.iter()
                .filter_map(|k| fam.table.remove(k, LOCAL, &rank))
                .collect()
        };
        let out = loc::publish(core, fam, tc);
        adj_in::settle(core, fam);
        out
    }

    fn remove_where<K: Family>(&mut self, gone: impl Fn(&Path) -> bool) -> Vec<Change<K>> {
        let (core, fam) = K::parts(self);
        let tc = {
            let rank = core.ranker();
            fam.table.remove_where(gone, &rank)
        };
        let out = loc::publish(core, fam, tc);
        adj_in::settle(core, fam);
        out
    }

    /// The session with `peer` is gone (no graceful restart): all its routes are withdrawn
    /// and its Adj-RIB-Out forgotten.
    pub fn peer_down(&mut self, peer: PeerId) -> Result<Changes, RibError> {
        self.core.peer(peer)?;
        self.out_down(peer);
        Ok(Changes {
            evpn: self.remove_where::<EvpnRouteKey>(|p| p.peer == peer),
            ipv4: self.remove_where::<Ipv4Prefix>(|p| p.peer == peer),
            max_prefix_exceeded: Vec::new(),
        })
    }

    /// Stops advertising to `peer` and forgets what it was sent (session down, also when
    /// its routes are kept as stale for graceful restart).
    pub fn out_down(&mut self, peer: PeerId) {
        adj_out::reset(&mut self.core, &mut self.evpn, peer);
        adj_out::reset(&mut self.core, &mut self.ipv4, peer);
    }

    /// The session with `peer` is established for `family`: its Adj-RIB-Out starts empty
    /// with every Loc-RIB route dirty (the initial full advertisement). The session layer
    /// sends End-of-RIB once `pending` reaches 0.
    pub fn peer_up(&mut self, peer: PeerId, family: AfiSafi) -> Result<(), RibError> {
        self.core.peer(peer)?;
        match family {
            AfiSafi::L2VPN_EVPN => self.out_up::<EvpnRouteKey>(peer),
            AfiSafi::IPV4_UNICAST => self.out_up::<Ipv4Prefix>(peer),
            f => return Err(RibError::UnsupportedFamily(f)),
        }
        Ok(())
    }

    fn out_up<K: Family>(&mut self, peer: PeerId) {
        let (core, fam) = K::parts(self);
        adj_out::reset(core, fam, peer);
        let i = usize::from(peer);
        if fam.out.len() <= i {
            fam.out.resize_with(i + 1, AdjOut::default);
        }
        let out = &mut fam.out[i];
        out.enabled = true;
        out.dirty.extend(fam.table.iter().map(|(k, _)| *k));
    }

    /// RFC 4724: `peer` restarts; its routes of `family` are kept but marked stale.
    /// Returns how many.
    pub fn mark_stale(&mut self, peer: PeerId, family: AfiSafi) -> Result<usize, RibError> {
        self.core.peer(peer)?;
        Ok(match family {
            AfiSafi::L2VPN_EVPN => self.evpn.table.mark_stale(peer),
            AfiSafi::IPV4_UNICAST => self.ipv4.table.mark_stale(peer),
            f => return Err(RibError::UnsupportedFamily(f)),
        })
    }

    /// RFC 4724: End-of-RIB from `peer` (or its restart timer fired): the routes still
    /// stale are withdrawn. Re-advertised ones lost their stale flag when they came in.
    pub fn sweep_stale(&mut self, peer: PeerId, family: AfiSafi) -> Result<Changes, RibError> {
        self.core.peer(peer)?;
        let stale = move |p: &Path| p.peer == peer && p.is_stale();
        let mut ch = Changes::default();
        match family {
            AfiSafi::L2VPN_EVPN => ch.evpn = self.remove_where::<EvpnRouteKey>(stale),
            AfiSafi::IPV4_UNICAST => ch.ipv4 = self.remove_where::<Ipv4Prefix>(stale),
            f => return Err(RibError::UnsupportedFamily(f)),
        }
        Ok(ch)
    }

    /// Up to about `max_messages` packed UPDATEs for `peer` in `family` (withdrawals
    /// first), sized to the peer's negotiated maximum message length. Call again while
    /// [`Rib::pending`] is non-zero. While the peer's minimum advertisement interval runs
    /// (time from [`Rib::set_clock_ms`]), only withdrawals go; advertisements are held.
    pub fn drain(
        &mut self,
        peer: PeerId,
        family: AfiSafi,
        max_messages: usize,
    ) -> Result<Vec<BytesMut>, RibError> {
        match family {
            AfiSafi::L2VPN_EVPN => {
                adj_out::drain(&mut self.core, &mut self.evpn, peer, max_messages)
            }
            AfiSafi::IPV4_UNICAST => {
                adj_out::drain(&mut self.core, &mut self.ipv4, peer, max_messages)
            }
            f => Err(RibError::UnsupportedFamily(f)),
        }
    }

    /// Keys waiting to be drained for `peer` in `family` now: the dirty ones, and those
    /// held by its minimum advertisement interval once that has run out (see
    /// [`Rib::advertisement_due`] for when).
    pub fn pending(&self, peer: PeerId, family: AfiSafi) -> usize {
        match family {
            AfiSafi::L2VPN_EVPN => self.pending_in::<EvpnRouteKey>(peer),
            AfiSafi::IPV4_UNICAST => self.pending_in::<Ipv4Prefix>(peer),
            _ => 0,
        }
    }

    fn pending_in<K: Family>(&self, peer: PeerId) -> usize {
        let Some(out) = self.adj_out::<K>(peer) else {
            return 0;
        };
        let due = self
            .interval_ms(peer)
            .is_some_and(|i| out.mrai.is_open(self.core.now_ms, i));
        out.pending() + if due { out.held() } else { 0 }
    }

    fn interval_ms(&self, peer: PeerId) -> Option<u64> {
        let p = self.core.peer(peer).ok()?;
        Some(u64::from(p.cfg.advertisement_interval).saturating_mul(1000))
    }

    /// When (ms on the caller's clock) the advertisements held for `peer` in `family` by
    /// its minimum advertisement interval may go: `None` when none are held. At or after
    /// that time [`Rib::pending`] counts them and [`Rib::drain`] sends them.
    pub fn advertisement_due(&self, peer: PeerId, family: AfiSafi) -> Option<u64> {
        match family {
            AfiSafi::L2VPN_EVPN => self.due_in::<EvpnRouteKey>(peer),
            AfiSafi::IPV4_UNICAST => self.due_in::<Ipv4Prefix>(peer),
            _ => None,
        }
    }

    fn due_in<K: Family>(&self, peer: PeerId) -> Option<u64> {
        let out = self.adj_out::<K>(peer).filter(|o| o.held() > 0)?;
        let interval = self.interval_ms(peer)?;
        Some(out.mrai.opens_at(interval).unwrap_or(self.core.now_ms))
    }

    /// Routes held from `peer` in `family` (its Adj-RIB-In size), for max-prefix.
    pub fn prefix_count(&self, peer: PeerId, family: AfiSafi) -> u32 {
        match family {
            AfiSafi::L2VPN_EVPN => self.evpn.table.peer_count(peer),
            AfiSafi::IPV4_UNICAST => self.ipv4.table.peer_count(peer),
            _ => 0,
        }
    }

    /// The family's table (Adj-RIB-Ins and Loc-RIB).
    pub fn table<K: Family>(&self) -> &Table<K> {
        &K::of(self).table
    }

    /// `peer`'s Adj-RIB-Out in family `K`.
    pub fn adj_out<K: Family>(&self, peer: PeerId) -> Option<&AdjOut<K>> {
        K::of(self).out.get(usize::from(peer))
    }

    /// The best route to `key`.
    pub fn best<K: Family>(&self, key: &K) -> Option<Route<K>> {
        let fam = K::of(self);
        let p = fam.table.best(key)?;
        Some(loc::route(&self.core, fam, key, p))
    }

    /// `peer`'s route to `key` (from its Adj-RIB-In).
    pub fn received<K: Family>(&self, key: &K, peer: PeerId) -> Option<Route<K>> {
        let fam = K::of(self);
        let p = fam.table.path_of(key, peer)?;
        Some(loc::route(&self.core, fam, key, &p))
    }

    /// Distinct attribute sets held (received and exported).
    pub fn attr_sets(&self) -> usize {
        self.core.attrs.len()
    }
}

#[cfg(test)]
mod tests;
