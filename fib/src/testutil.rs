//! Fixtures shared by the sans-IO tests.

use crate::model::{Bridge, Topology, Vni, VxlanDevice};

/// br100 (ifindex 1) holding vxlan100 (ifindex 2, VNI 100, no local address).
pub(crate) fn br100_vxlan100() -> Topology {
    let mut t = Topology::default();
    t.bridges.insert(
        1,
        Bridge {
            name: "br100".into(),
            ifindex: 1,
            mac: None,
            up: true,
            addrs: vec![],
        },
    );
    t.vxlans.insert(
        2,
        VxlanDevice {
            name: "vxlan100".into(),
            ifindex: 2,
            vni: Some(Vni(100)),
            local: None,
            dstport: 4789,
            learning: false,
            external: false,
            vnifilter: false,
            master: Some(1),
            up: true,
        },
    );
    t
}
