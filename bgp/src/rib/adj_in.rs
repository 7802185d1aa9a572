//! Adj-RIB-In: routes received from peers (and originated locally, as peer [`LOCAL`])
//! entering the family's table, with RFC 7606 treat-as-withdraw, loop detection and the
//! eBGP LOCAL_PREF rule applied on the way in.

use std::cmp::Ordering;

use super::attrs::PathAttrs;
use super::best::{self, BestPathConfig, Candidate, Source};
use super::family::RouteKey;
use super::loops::{self, LoopCheck};
use super::peer::{PeerId, LOCAL};
use super::table::{Path, TableChange};
use super::{Core, FamilyRib};
use crate::packet::Update;

impl Core {
    /// How the decision process sees `peer`.
    pub(crate) fn source(&self, peer: PeerId) -> Source {
        match self.peer(peer) {
            Ok(p) => Source {
                local: peer == LOCAL,
                ebgp: peer != LOCAL && p.cfg.asn != self.cfg.local_as,
                router_id: p.cfg.router_id,
                address: p.cfg.address,
            },
            Err(_) => Source {
                local: false,
                ebgp: false,
                router_id: std::net::Ipv4Addr::BROADCAST,
                address: std::net::IpAddr::V4(std::net::Ipv4Addr::BROADCAST),
            },
        }
    }

    /// The best-path order over table paths.
    pub(crate) fn ranker(&self) -> impl Fn(&Path, &Path) -> Ordering + '_ {
        let cfg = BestPathConfig {
            local_as: self.cfg.local_as,
            always_compare_med: self.cfg.always_compare_med,
        };
        move |a: &Path, b: &Path| {
            let ca = Candidate {
                attrs: self.attrs.get(a.attrs),
                source: self.source(a.peer),
            };
            let cb = Candidate {
                attrs: self.attrs.get(b.attrs),
                source: self.source(b.peer),
            };
            best::compare(&ca, &cb, &cfg).0
        }
    }

    fn loop_check(&self, peer: PeerId) -> LoopCheck {
        LoopCheck {
            local_as: self.cfg.local_as,
            router_id: self.cfg.router_id,
            cluster_id: self.cfg.cluster_id(),
            allowas_in: self.peer(peer).map_or(0, |p| p.cfg.allowas_in),
        }
    }
}

/// Hands the attribute references the table gave up back to the interner.
pub(crate) fn settle<K: RouteKey>(core: &mut Core, fam: &mut FamilyRib<K>) {
    for id in fam.table.take_released() {
        core.attrs.release(id);
    }
}

/// Applies `u`'s routes of family `K` from `peer`.
pub(crate) fn apply<K: RouteKey>(
    core: &mut Core,
    fam: &mut FamilyRib<K>,
    peer: PeerId,
    u: &Update,
    treat_as_withdraw: bool,
) -> Vec<TableChange<K>> {
    let mut out = Vec::new();
    {
        let rank = core.ranker();
        for list in K::unreach(u) {
            for n in list {
                let (k, _, _) = K::split(n);
                out.extend(fam.table.remove(&k, peer, &rank));
            }
        }
    }
    let Some((next_hop, list)) = K::reach(u) else {
        return out;
    };
    let mut attrs = PathAttrs::from_update(u, next_hop);
    if core.source(peer).ebgp {
        // RFC 4271 5.1.5: LOCAL_PREF from an external peer is ignored.
        attrs.local_pref = None;
    }
    let looped = loops::check(&attrs, &core.loop_check(peer));
    if treat_as_withdraw || looped.is_some() {
        if looped.is_some() {
            if let Ok(p) = core.peer_mut(peer) {
                p.stats.loops_dropped += list.len() as u64;
            }
        }
        let rank = core.ranker();
        for n in list {
            let (k, _, _) = K::split(n);
            out.extend(fam.table.remove(&k, peer, &rank));
        }
        return out;
    }
    insert(core, fam, peer, attrs, list, &mut out);
    out
}

/// Inserts `list` from `peer` with one attribute set (interned once for all of them).
pub(crate) fn insert<K: RouteKey>(
    core: &mut Core,
    fam: &mut FamilyRib<K>,
    peer: PeerId,
    attrs: PathAttrs,
    list: &[K::Nlri],
    out: &mut Vec<TableChange<K>>,
) {
    if list.is_empty() {
        return;
    }
    let id = core.attrs.intern(attrs);
    // One reference per route; the one `intern` took goes to the first route.
    core.attrs.retain_n(id, list.len() as u32 - 1);
    let rank = core.ranker();
    out.reserve(list.len());
    // Keys and hashes first (each hashed once), so the table can fetch all their index
    // buckets at once before the inserts (`Table::prepare`).
    let routes: Vec<(K, u32, K::Extra, u32)> = list
        .iter()
        .map(|n| {
            let (k, label, extra) = K::split(n);
            let h = fam.table.hash(&k);
            (k, label, extra, h)
        })
        .collect();
    fam.table.prepare(routes.iter().map(|r| r.3));
    for (k, label, extra, h) in routes {
        let p = fam.table.make_path(id, peer, label, &extra, core.clock);
        out.extend(fam.table.upsert_hashed(k, h, p, &rank));
    }
}
