//! Loop detection on received routes. A route that fails is handled as a withdrawal of
//! that route from that peer, and counted. FRR's route reflectors send a leaf's own routes
//! back with ORIGINATOR_ID = the leaf, and eBGP spines with the leaf's AS in the path: these
//! checks are what drop them.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::attrs::PathAttrs;

/// Why a route was found looping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loop {
    /// Our AS appears in AS_PATH more often than allowas-in permits (RFC 4271 9.1.2).
    OwnAs,
    /// ORIGINATOR_ID is our router id (RFC 4456 section 8).
    OriginatorId,
    /// Our cluster id is in CLUSTER_LIST (RFC 4456 section 8).
    ClusterId,
}

/// What the checks compare against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoopCheck {
    pub local_as: u32,
    pub router_id: Ipv4Addr,
    pub cluster_id: Ipv4Addr,
    /// Occurrences of our AS tolerated (FRR `allowas-in N`; 0 by default).
    pub allowas_in: u8,
}

/// The first loop `attrs` shows, if any.
pub fn check(attrs: &PathAttrs, c: &LoopCheck) -> Option<Loop> {
    let own = attrs
        .as_path
        .segments
        .iter()
        .flat_map(|s| s.asns.iter())
        .filter(|&&a| a == c.local_as)
        .count();
    if own > usize::from(c.allowas_in) {
        return Some(Loop::OwnAs);
    }
    if attrs.originator_id == Some(c.router_id) {
        return Some(Loop::OriginatorId);
    }
    if attrs.cluster_list.contains(&c.cluster_id) {
        return Some(Loop::ClusterId);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{AsPath, AsSegment, SegmentType};

    const C: LoopCheck = LoopCheck {
        local_as: 65001,
        router_id: Ipv4Addr::new(10, 0, 0, 1),
        cluster_id: Ipv4Addr::new(10, 0, 0, 100),
        allowas_in: 0,
    };

    #[test]
    fn table() {
        let attrs = |f: &dyn Fn(&mut PathAttrs)| {
            let mut a = PathAttrs {
                as_path: AsPath::sequence(vec![65100, 65002]),
                ..Default::default()
            };
            f(&mut a);
            a
        };
        let cases: Vec<(&str, PathAttrs, LoopCheck, Option<Loop>)> = vec![
            ("clean", attrs(&|_| {}), C, None),
            (
                "own AS (eBGP spine reflects our route)",
                attrs(&|a| a.as_path = AsPath::sequence(vec![65100, 65001])),
                C,
                Some(Loop::OwnAs),
            ),
            (
                "own AS inside an AS_SET",
                attrs(&|a| {
                    a.as_path.segments.push(AsSegment {
                        kind: SegmentType::AsSet,
                        asns: vec![7, 65001],
                    })
                }),
                C,
                Some(Loop::OwnAs),
            ),
            (
                "own AS once with allowas-in 1",
                attrs(&|a| a.as_path = AsPath::sequence(vec![65100, 65001])),
                LoopCheck { allowas_in: 1, ..C },
                None,
            ),
            (
                "own AS twice with allowas-in 1",
                attrs(&|a| a.as_path = AsPath::sequence(vec![65001, 65100, 65001])),
                LoopCheck { allowas_in: 1, ..C },
                Some(Loop::OwnAs),
            ),
            (
                "ORIGINATOR_ID is us (FRR RR reflects our route)",
                attrs(&|a| a.originator_id = Some(Ipv4Addr::new(10, 0, 0, 1))),
                C,
                Some(Loop::OriginatorId),
            ),
            (
                "ORIGINATOR_ID of another leaf",
                attrs(&|a| a.originator_id = Some(Ipv4Addr::new(10, 0, 0, 2))),
                C,
                None,
            ),
            (
                "our cluster id in CLUSTER_LIST",
                attrs(&|a| {
                    a.cluster_list =
                        vec![Ipv4Addr::new(10, 0, 0, 200), Ipv4Addr::new(10, 0, 0, 100)]
                }),
                C,
                Some(Loop::ClusterId),
            ),
            (
                "another cluster",
                attrs(&|a| a.cluster_list = vec![Ipv4Addr::new(10, 0, 0, 200)]),
                C,
                None,
            ),
        ];
        for (name, a, c, want) in cases {
            assert_eq!(check(&a, &c), want, "{name}");
        }
    }
}
