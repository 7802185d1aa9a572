//! evpnd's daemon crate: wires the `bgp`, `evpn` and `fib` crates together, and holds what the
//! `evpnd` and `evpnctl` binaries share.

pub mod config;
pub mod decode;
