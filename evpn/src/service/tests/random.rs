//! Random event sequences: the incremental outputs, the service's state, its own
//! recomputation, the independent full computations and `fib::diff` all agree.

use super::*;
use crate::{import, originate};
use proptest::prelude::*;

const VNIS: [u32; 3] = [100, 200, 300];
/// 10.0.0.0 is below our VTEP (wins ties), 10.0.0.1 is us (own routes), 2 and 3 above.
const VTEPS: [&str; 4] = ["10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.3"];

#[derive(Clone, Debug)]
enum Op {
    MacAdd {
        vni: usize,
        mac: u8,
        sticky: bool,
    },
    MacDel {
        vni: usize,
        mac: u8,
    },
    NeighAdd {
        vni: usize,
        ip: u8,
        mac: u8,
    },
    NeighDel {
        vni: usize,
        ip: u8,
    },
    T2 {
        vtep: usize,
        vni: usize,
        mac: u8,
        ip: Option<u8>,
        seq: u32,
        sticky: bool,
    },
    T3 {
        vtep: usize,
        vni: usize,
    },
    Withdraw {
        pick: usize,
    },
    Topology {
        with_300: bool,
    },
    Clear {
        vni: usize,
        mac: u8,
    },
    /// VNI 200 imports only an RT nobody sends (true) or its auto RT (false).
    ExplicitRt(bool),
    Wait {
        secs: u64,
    },
}

fn any_op() -> impl Strategy<Value = Op> {
    let vni = 0..VNIS.len();
    let mac = 1u8..5;
    prop_oneof![
        4 => (vni.clone(), mac.clone(), prop::bool::weighted(0.15))
            .prop_map(|(vni, mac, sticky)| Op::MacAdd { vni, mac, sticky }),
        2 => (vni.clone(), mac.clone()).prop_map(|(vni, mac)| Op::MacDel { vni, mac }),
        2 => (vni.clone(), 1u8..4, mac.clone())
            .prop_map(|(vni, ip, mac)| Op::NeighAdd { vni, ip, mac }),
        1 => (vni.clone(), 1u8..4).prop_map(|(vni, ip)| Op::NeighDel { vni, ip }),
        6 => (0..VTEPS.len(), vni.clone(), mac.clone(), prop::option::of(1u8..4), 0u32..6,
              prop::bool::weighted(0.1))
            .prop_map(|(vtep, vni, mac, ip, seq, sticky)| Op::T2 { vtep, vni, mac, ip, seq, sticky }),
        2 => (0..VTEPS.len(), vni.clone()).prop_map(|(vtep, vni)| Op::T3 { vtep, vni }),
        3 => any::<usize>().prop_map(|pick| Op::Withdraw { pick }),
        1 => any::<bool>().prop_map(|with_300| Op::Topology { with_300 }),
        1 => (vni, mac).prop_map(|(vni, mac)| Op::Clear { vni, mac }),
        1 => any::<bool>().prop_map(Op::ExplicitRt),
        2 => (0u64..120).prop_map(|secs| Op::Wait { secs }),
    ]
}

fn m(n: u8) -> &'static str {
    [
        "",
        "02:00:00:00:00:01",
        "02:00:00:00:00:02",
        "02:00:00:00:00:03",
        "02:00:00:00:00:04",
    ][usize::from(n)]
}

fn a(n: u8) -> String {
    format!("10.1.1.{n}")
}

struct Model {
    sv: EvpnService,
    topo: Topology,
    now: u64,
    routes: BTreeMap<EvpnRouteKey, ReceivedRoute>,
    local: LocalState,
    orig: BTreeMap<EvpnRouteKey, EvpnRoute>,
    fib: FibState,
}

impl Model {
    fn new() -> Self {
        let mut sv = EvpnService::new(EvpnConfig::new(65000, rid("10.0.0.1")));
        let topo = topology(&VNIS);
        let out = sv.set_topology(&topo, s(0));
        let mut me = Self {
            sv,
            topo,
            now: 0,
            routes: BTreeMap::new(),
            local: LocalState::default(),
            orig: BTreeMap::new(),
            fib: FibState::default(),
        };
        me.absorb(out);
        me
    }

    fn absorb(&mut self, out: Output) {
        for k in &out.withdraw {
            assert!(
                self.orig.remove(k).is_some(),
                "withdrawn but never advertised: {k}"
            );
        }
        for r in out.advertise {
            self.orig.insert(r.key(), r);
        }
        out.fib.apply(&mut self.fib);
    }

    fn step(&mut self, op: &Op) {
        let now = s(self.now);
        let out = match *op {
            Op::MacAdd { vni, mac, sticky } => {
                let k = fk(VNIS[vni], m(mac));
                let v = LocalMac { port: 7, sticky };
                self.local.macs.insert(k, v);
                self.sv.local_mac_added(k, v, now)
            }
            Op::MacDel { vni, mac } => {
                let k = fk(VNIS[vni], m(mac));
                self.local.macs.remove(&k);
                self.sv.local_mac_removed(k, now)
            }
            Op::NeighAdd { vni, ip, mac } => {
                let k = nk(VNIS[vni], &a(ip));
                self.local.neigh.insert(k, super::mac(m(mac)));
                self.sv.local_neigh_added(k, super::mac(m(mac)))
            }
            Op::NeighDel { vni, ip } => {
                let k = nk(VNIS[vni], &a(ip));
                self.local.neigh.remove(&k);
                self.sv.local_neigh_removed(k)
            }
            Op::T2 {
                vtep,
                vni,
                mac,
                ip,
                seq,
                sticky,
            } => {
                let ipa = ip.map(a);
                let r = t2(VTEPS[vtep], VNIS[vni], m(mac), ipa.as_deref(), seq, sticky);
                self.routes.insert(r.route.key(), r.clone());
                self.sv.route_received(&r, now).1
            }
            Op::T3 { vtep, vni } => {
                let r = t3(VTEPS[vtep], VNIS[vni]);
                self.routes.insert(r.route.key(), r.clone());
                self.sv.route_received(&r, now).1
            }
            Op::Withdraw { pick } => {
                if self.routes.is_empty() {
                    return;
                }
                let k = *self.routes.keys().nth(pick % self.routes.len()).unwrap();
                self.routes.remove(&k);
                self.sv.route_withdrawn(&k, now)
            }
            Op::Topology { with_300 } => {
                let vnis: &[u32] = if with_300 { &VNIS } else { &VNIS[..2] };
                self.topo = topology(vnis);
                self.sv.set_topology(&self.topo, now)
            }
            Op::Clear { vni, mac } => match self.sv.clear_duplicate(fk(VNIS[vni], m(mac)), now) {
                Some(out) => out,
                None => return,
            },
            Op::ExplicitRt(on) => {
                let mut c = self.sv.config().clone();
                if on {
                    c.vni.insert(
                        Vni(200),
                        crate::config::VniConfig {
                            import_rt: vec!["65099:200".parse().unwrap()],
                            ..Default::default()
                        },
                    );
                } else {
                    c.vni.clear();
                }
                self.sv.set_config(c, &self.topo, now)
            }
            Op::Wait { secs } => {
                self.now += secs;
                return;
            }
        };
        self.absorb(out);
    }

    fn check(&self) {
        let sv = &self.sv;
        // Deltas reproduce the state; the state equals its own recomputation.
        assert_eq!(&self.orig, sv.originated(), "advertise/withdraw deltas");
        assert_eq!(self.fib, sv.fib(), "fib deltas");
        let (orig, fib) = sv.recompute();
        assert_eq!(&orig, sv.originated(), "originated == recomputed");
        assert_eq!(fib, sv.fib(), "fib == recomputed");
        assert_eq!(
            sv.importer().remote_macs(),
            fib.fdb.len(),
            "remote MAC count"
        );
        assert_eq!(&self.local, sv.local());
        // Independent full computations from the model's inputs.
        let wins = |k: &FdbKey| match (self.local.macs.contains_key(k), sv.mobility().superseded(k))
        {
            (false, _) => import::LocalRole::NotLocal,
            (true, false) => import::LocalRole::Wins,
            (true, true) => import::LocalRole::Superseded,
        };
        assert_eq!(
            import::full(sv.instances(), self.routes.values(), &wins),
            self.fib,
            "import::full"
        );
        assert_eq!(
            originate::full(sv.instances(), &self.local, &|k| sv
                .mobility()
                .advertised(k)),
            self.orig,
            "originate::full"
        );
        // fib::diff agrees: with every local MAC still in the kernel (superseded ones
        // too, before the bridge ages them out), nothing desired is skipped as local or
        // unknown: moved-away MACs are marked `supersede_local` and programmed.
        let snap = fib::Snapshot {
            topology: self.topo.clone(),
            local: self.local.clone(),
            ..Default::default()
        };
        let plan = fib::diff(&self.fib, &snap);
        assert_eq!(
            plan.skipped,
            fib::Skipped::default(),
            "fib::diff skipped some"
        );
        // Mobility: each local MAC of a served VNI, unless frozen, is either advertised or
        // superseded, and an advertised non-sticky one beats the best remote route.
        for (k, lm) in &self.local.macs {
            let Some(inst) = sv.instances().get(k.vni) else {
                continue;
            };
            let st = sv.mobility().get(k).expect("local MAC has mobility state");
            if st.frozen() {
                continue;
            }
            assert_ne!(st.advertised.is_some(), st.superseded, "{k:?} {st:?}");
            if let (Some(ours), Some(r)) = (st.advertised, sv.importer().remote_best(k)) {
                if !lm.sticky {
                    assert!(!r.mobility.sticky, "remote sticky must win {k:?}");
                    assert!(
                        ours.sequence > r.mobility.sequence
                            || (ours.sequence == r.mobility.sequence && inst.vtep < r.vtep),
                        "{k:?} ours {ours:?} remote {r:?}"
                    );
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn incremental_equals_full(ops in prop::collection::vec(any_op(), 1..80)) {
        let mut model = Model::new();
        model.check();
        for op in &ops {
            model.step(op);
            model.check();
        }
    }
}
