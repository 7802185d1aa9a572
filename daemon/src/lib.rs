//! evpnd's daemon crate: wires the `bgp`, `evpn` and `fib` crates together, and holds what the
//! `evpnd` and `evpnctl` binaries share. See `tasks.rs` for the tasks and channels.

pub mod config;
pub mod control;
pub mod core;
pub mod ctl;
pub mod decode;
pub mod evpnglue;
pub mod evpnview;
pub mod fibtask;
pub mod listener;
pub mod logging;
pub mod metrics;
pub mod peer;
pub mod restart;
pub mod rib;
pub mod routes;
pub mod sockopt;
pub mod tasks;
