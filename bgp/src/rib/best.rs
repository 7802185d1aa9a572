//! The BGP decision process (RFC 4271 section 9.1.2) as one pure comparison.
//!
//! Steps, in order; the first that differs decides ([`Step`] names it):
//!
//! 1. `LlgrStale`: a route carrying the LLGR_STALE community loses (RFC 9494 section
//!    4.3; FRR does this first too). The RFC 4724 stale *flag* does not rank: FRR keeps a
//!    restarting peer's stale route as best until it is swept, and so do we.
//! 2. `LocalPref`: highest LOCAL_PREF (absent = 100).
//! 3. `Local`: a locally originated route wins (FRR: "local route").
//! 4. `AsPathLen`: shortest AS_PATH (AS_SET counts 1, confederation segments 0).
//! 5. `Origin`: lowest ORIGIN (IGP < EGP < INCOMPLETE).
//! 6. `Med`: lowest MED (absent = 0), only when both routes came from the same neighbour
//!    AS (leftmost AS of the path; an empty path is our own AS), unless
//!    `always_compare_med`. Off by default as the RFC says: MEDs of different ASes are not
//!    comparable. (Pairwise MED is not transitive; FRR's `deterministic-med` is not done.)
//! 7. `Ebgp`: a route learned over eBGP beats one learned over iBGP.
//!    (RFC 9.1.2.2 (e), lowest IGP cost to the next hop, is skipped: evpnd has no IGP
//!    view; the underlay is ECMP-flat in a leaf-spine fabric.)
//! 8. `RouterId`: lowest originator: ORIGINATOR_ID if present (RFC 4456 section 9), else
//!    the peer's BGP Identifier.
//! 9. `ClusterListLen`: shortest CLUSTER_LIST (RFC 4456 section 9).
//! 10. `PeerAddress`: lowest peer address.
//!
//! EVPN MAC mobility (higher sequence wins, RFC 7432 section 15) is the EVPN layer's rule,
//! applied on top; [`super::attrs::PathAttrs::mac_mobility`] exposes what it needs.

use std::cmp::Ordering;
use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

use super::attrs::PathAttrs;
use crate::packet::Community;

/// Where a candidate route came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Source {
    /// Originated by this speaker.
    pub local: bool,
    /// Learned over eBGP.
    pub ebgp: bool,
    /// BGP Identifier of the peer (ours for local routes).
    pub router_id: Ipv4Addr,
    pub address: IpAddr,
}

/// A route as the decision process sees it.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    pub attrs: &'a PathAttrs,
    pub source: Source,
}

/// Options of the decision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BestPathConfig {
    pub local_as: u32,
    pub always_compare_med: bool,
}

/// The step that decided a comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    LlgrStale,
    LocalPref,
    Local,
    AsPathLen,
    Origin,
    Med,
    Ebgp,
    RouterId,
    ClusterListLen,
    PeerAddress,
    /// Nothing differs.
    Equal,
}

/// Compares two routes: `Less` when `a` is preferred, `Greater` when `b` is (so sorting
/// by it puts the best first), with the step that decided.
pub fn compare(a: &Candidate, b: &Candidate, cfg: &BestPathConfig) -> (Ordering, Step) {
    let (x, y) = (a.attrs, b.attrs);
    let llgr = |c: &PathAttrs| c.communities.contains(&Community::LLGR_STALE);
    let steps: [(Ordering, Step); 6] = [
        (llgr(x).cmp(&llgr(y)), Step::LlgrStale),
        (
            y.effective_local_pref().cmp(&x.effective_local_pref()),
            Step::LocalPref,
        ),
        (b.source.local.cmp(&a.source.local), Step::Local),
        (
            x.as_path.path_len().cmp(&y.as_path.path_len()),
            Step::AsPathLen,
        ),
        (x.origin.cmp(&y.origin), Step::Origin),
        (med(a, b, cfg), Step::Med),
    ];
    if let Some(d) = steps.into_iter().find(|(o, _)| o.is_ne()) {
        return d;
    }
    let originator = |c: &Candidate| c.attrs.originator_id.unwrap_or(c.source.router_id);
    let rest = [
        (b.source.ebgp.cmp(&a.source.ebgp), Step::Ebgp),
        (originator(a).cmp(&originator(b)), Step::RouterId),
        (
            x.cluster_list.len().cmp(&y.cluster_list.len()),
            Step::ClusterListLen,
        ),
        (a.source.address.cmp(&b.source.address), Step::PeerAddress),
    ];
    rest.into_iter()
        .find(|(o, _)| o.is_ne())
        .unwrap_or((Ordering::Equal, Step::Equal))
}

fn med(a: &Candidate, b: &Candidate, cfg: &BestPathConfig) -> Ordering {
    let neighbour = |c: &Candidate| c.attrs.as_path.first_as().unwrap_or(cfg.local_as);
    if !cfg.always_compare_med && neighbour(a) != neighbour(b) {
        return Ordering::Equal;
    }
    a.attrs.med.unwrap_or(0).cmp(&b.attrs.med.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{AsPath, AsSegment, Origin, SegmentType};

    const CFG: BestPathConfig = BestPathConfig {
        local_as: 65000,
        always_compare_med: false,
    };

    fn ibgp(last: u8) -> Source {
        Source {
            local: false,
            ebgp: false,
            router_id: Ipv4Addr::new(10, 0, 0, last),
            address: IpAddr::V4(Ipv4Addr::new(192, 168, 0, last)),
        }
    }

    fn path(asns: &[u32]) -> AsPath {
        AsPath::sequence(asns.to_vec())
    }

    struct Case {
        name: &'static str,
        a: (PathAttrs, Source),
        b: (PathAttrs, Source),
        cfg: BestPathConfig,
        want: (Ordering, Step),
    }

    fn base() -> PathAttrs {
        PathAttrs {
            as_path: path(&[65001]),
            ..Default::default()
        }
    }

    fn with(f: impl FnOnce(&mut PathAttrs)) -> PathAttrs {
        let mut a = base();
        f(&mut a);
        a
    }

    fn cases() -> Vec<Case> {
        let c = |name, a, b, want| Case {
            name,
            a,
            b,
            cfg: CFG,
            want,
        };
        use Ordering::{Equal, Greater, Less};
        let ebgp = Source {
            ebgp: true,
            ..ibgp(1)
        };
        let local = Source {
            local: true,
            ..ibgp(9)
        };
        vec![
            c(
                "llgr-stale loses even with higher local-pref",
                (
                    with(|a| {
                        a.communities = vec![Community::LLGR_STALE];
                        a.local_pref = Some(500)
                    }),
                    ibgp(1),
                ),
                (base(), ibgp(2)),
                (Greater, Step::LlgrStale),
            ),
            c(
                "higher local-pref wins over shorter path",
                (
                    with(|a| {
                        a.local_pref = Some(200);
                        a.as_path = path(&[1, 2, 3])
                    }),
                    ibgp(2),
                ),
                (base(), ibgp(1)),
                (Less, Step::LocalPref),
            ),
            c(
                "absent local-pref is 100",
                (with(|a| a.local_pref = Some(99)), ibgp(1)),
                (base(), ibgp(2)),
                (Greater, Step::LocalPref),
            ),
            c(
                "locally originated wins over shorter path",
                (with(|a| a.as_path = path(&[1, 2])), local),
                (with(|a| a.as_path = AsPath::default()), ibgp(1)),
                (Less, Step::Local),
            ),
            c(
                "shorter AS path",
                (with(|a| a.as_path = path(&[65001, 65002])), ibgp(1)),
                (base(), ibgp(2)),
                (Greater, Step::AsPathLen),
            ),
            c(
                "AS_SET counts one, confed segments zero",
                (
                    with(|a| {
                        a.as_path = AsPath {
                            segments: vec![
                                AsSegment {
                                    kind: SegmentType::AsConfedSequence,
                                    asns: vec![1, 2, 3],
                                },
                                AsSegment {
                                    kind: SegmentType::AsSequence,
                                    asns: vec![65001],
                                },
                                AsSegment {
                                    kind: SegmentType::AsSet,
                                    asns: vec![7, 8, 9],
                                },
                            ],
                        }
                    }),
                    ibgp(1),
                ),
                (with(|a| a.as_path = path(&[65001, 5, 6])), ibgp(2)),
                (Less, Step::AsPathLen),
            ),
            c(
                "lower origin",
                (with(|a| a.origin = Origin::Incomplete), ibgp(1)),
                (with(|a| a.origin = Origin::Egp), ibgp(2)),
                (Greater, Step::Origin),
            ),
            c(
                "lower MED from the same neighbour AS",
                (with(|a| a.med = Some(10)), ibgp(2)),
                (with(|a| a.med = Some(20)), ibgp(1)),
                (Less, Step::Med),
            ),
            c(
                "absent MED is 0",
                (with(|a| a.med = Some(1)), ibgp(1)),
                (base(), ibgp(2)),
                (Greater, Step::Med),
            ),
            c(
                "MED ignored between neighbour ASes: falls to router id",
                (with(|a| a.med = Some(10)), ibgp(2)),
                (
                    with(|a| {
                        a.med = Some(20);
                        a.as_path = path(&[65002])
                    }),
                    ibgp(1),
                ),
                (Greater, Step::RouterId),
            ),
            Case {
                name: "always-compare-med compares across ASes",
                a: (with(|a| a.med = Some(10)), ibgp(2)),
                b: (
                    with(|a| {
                        a.med = Some(20);
                        a.as_path = path(&[65002])
                    }),
                    ibgp(1),
                ),
                cfg: BestPathConfig {
                    always_compare_med: true,
                    ..CFG
                },
                want: (Less, Step::Med),
            },
            c(
                "eBGP over iBGP",
                (base(), ibgp(1)),
                (
                    base(),
                    Source {
                        router_id: Ipv4Addr::new(10, 0, 0, 200),
                        ..ebgp
                    },
                ),
                (Greater, Step::Ebgp),
            ),
            c(
                "lower router id",
                (base(), ibgp(3)),
                (base(), ibgp(2)),
                (Greater, Step::RouterId),
            ),
            c(
                "ORIGINATOR_ID stands for the router id",
                (
                    with(|a| a.originator_id = Some(Ipv4Addr::new(1, 1, 1, 1))),
                    ibgp(3),
                ),
                (base(), ibgp(2)),
                (Less, Step::RouterId),
            ),
            c(
                "shorter cluster list",
                (
                    with(|a| {
                        a.originator_id = Some(Ipv4Addr::new(1, 1, 1, 1));
                        a.cluster_list = vec![Ipv4Addr::new(5, 5, 5, 5); 2]
                    }),
                    ibgp(3),
                ),
                (
                    with(|a| {
                        a.originator_id = Some(Ipv4Addr::new(1, 1, 1, 1));
                        a.cluster_list = vec![Ipv4Addr::new(5, 5, 5, 5)]
                    }),
                    ibgp(2),
                ),
                (Greater, Step::ClusterListLen),
            ),
            c(
                "lower peer address",
                (
                    base(),
                    Source {
                        address: IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1)),
                        ..ibgp(7)
                    },
                ),
                (
                    base(),
                    Source {
                        address: IpAddr::V4(Ipv4Addr::new(192, 168, 0, 2)),
                        ..ibgp(7)
                    },
                ),
                (Less, Step::PeerAddress),
            ),
            c(
                "identical",
                (base(), ibgp(1)),
                (base(), ibgp(1)),
                (Equal, Step::Equal),
            ),
        ]
    }

    #[test]
    fn each_step_decides() {
        for case in cases() {
            let a = Candidate {
                attrs: &case.a.0,
                source: case.a.1,
            };
            let b = Candidate {
                attrs: &case.b.0,
                source: case.b.1,
            };
            assert_eq!(compare(&a, &b, &case.cfg), case.want, "{}", case.name);
            // Antisymmetric: swapping the routes flips the result, same step.
            let (o, s) = case.want;
            assert_eq!(
                compare(&b, &a, &case.cfg),
                (o.reverse(), s),
                "{} (swapped)",
                case.name
            );
        }
    }
}
