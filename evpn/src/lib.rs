//! The EVPN service of evpnd (RFC 7432, RFC 8365 VXLAN): per-VNI instances with FRR's
//! auto RD/RT, origination of type-2/3 routes from the local state, import of remote
//! best paths into the desired dataplane state (`fib::FibState`), and MAC mobility with
//! duplicate address detection.
//!
//! Sans-IO: plain data in, plain data out, time passed in. The speaker converts between
//! these route types and UPDATE messages; the daemon feeds kernel events and applies the
//! FIB deltas.
//!
//! - [`config`]: what the operator sets.
//! - [`instance`]: per-VNI RD/RTs, the import RT index, own-route checks.
//! - [`route`]: route types exchanged with the speaker.
//! - [`originate`]: the routes we advertise.
//! - [`import`]: remote routes -> desired FIB state.
//! - [`mobility`]: sequence numbers, sticky MACs, duplicate detection.
//! - [`service`]: all of it as one state machine ([`EvpnService`]).

pub mod config;
pub mod import;
pub mod instance;
pub mod mobility;
pub mod originate;
pub mod route;
pub mod service;
#[cfg(test)]
mod testutil;

pub use config::{AdvertiseVnis, DadConfig, EvpnConfig, VniConfig};
pub use import::{FibDelta, Importer, LocalRole, Verdict};
pub use instance::{auto_route_target, EvpnInstance, ImportRt, Instances};
pub use mobility::{Event, MobilityTable, RemoteBest};
pub use route::{EvpnRoute, Mobility, PathAttrs, ReceivedRoute, RouteSource};
pub use service::{EvpnService, Output};
