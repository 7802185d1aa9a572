//! topologies/mixed, ARP suppression (root only): once the leaves know a host's MAC+IP, an
//! ARP request for it is answered by the asker's own leaf (`neigh_suppress` on the vxlan
//! device, the neighbour entry on the SVI) and never crosses the underlay. Every VNI 100 host
//! asks for every other: FRR leaves answer for hosts FRR and evpnd learned, the evpnd leaf
//! for hosts FRR learned. tcpdump on both spines counts the broadcast ARP requests inside
//! VXLAN; one for an unknown address must cross (the capture works).
//!
//! Needs evpnd and evpnctl (see mixed_dynamics.rs) and tcpdump.

mod common;

use common::arp::*;
use common::fabric::*;

#[test]
fn mixed_no_arp_broadcast_crosses_the_underlay_for_known_hosts() {
    let lab = Lab::up("mxarp");
    assert_known_hosts_arp_suppressed(&lab);
}
