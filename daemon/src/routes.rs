//! Until the RIB is wired in: the routes each peer has announced and not withdrawn, per
//! family, so `show peers` can count prefixes received. The RIB replaces this.

use std::collections::HashSet;

use bgp::packet::evpn::EvpnNlri;
use bgp::packet::{Ipv4Prefix, MpNlri, Update, Verdict};

use crate::control::FamilyCounts;

#[derive(Debug, Default, Clone)]
pub struct PeerRoutes {
    evpn: HashSet<EvpnNlri>,
    ipv4: HashSet<Ipv4Prefix>,
}

impl PeerRoutes {
    pub fn apply(&mut self, u: &Update, verdict: &Verdict) {
        let withdraw = matches!(verdict, Verdict::TreatAsWithdraw);
        for p in &u.withdrawn {
            self.ipv4.remove(p);
        }
        for p in &u.nlri {
            if withdraw {
                self.ipv4.remove(p);
            } else {
                self.ipv4.insert(*p);
            }
        }
        if let Some(r) = u.mp_reach() {
            match &r.nlri {
                MpNlri::Evpn(v) => {
                    for n in v {
                        if withdraw {
                            self.evpn.remove(n);
                        } else {
                            self.evpn.insert(n.clone());
                        }
                    }
                }
                MpNlri::Ipv4(v) => {
                    for p in v {
                        if withdraw {
                            self.ipv4.remove(p);
                        } else {
                            self.ipv4.insert(*p);
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(r) = u.mp_unreach() {
            match &r.nlri {
                MpNlri::Evpn(v) => v.iter().for_each(|n| {
                    self.evpn.remove(n);
                }),
                MpNlri::Ipv4(v) => v.iter().for_each(|p| {
                    self.ipv4.remove(p);
                }),
                _ => {}
            }
        }
    }

    pub fn clear(&mut self) {
        self.evpn.clear();
        self.ipv4.clear();
    }

    pub fn counts(&self) -> Vec<FamilyCounts> {
        let mut v = vec![FamilyCounts {
            family: "l2vpn/evpn".into(),
            received: self.evpn.len() as u64,
            sent: 0,
        }];
        if !self.ipv4.is_empty() {
            v.push(FamilyCounts {
                family: "ipv4/unicast".into(),
                received: self.ipv4.len() as u64,
                sent: 0,
            });
        }
        v
    }
}
