//! A BGP peer session, sans-IO: plain events in, plain actions out. Messages, capabilities
//! and NOTIFICATIONs are the codec's types (`crate::packet`).
//!
//! ```text
//!            daemon (tokio)                               session (this module)
//!  +-----------------------------+   Input (events)   +---------------------------+
//!  | TCP connect/accept/read  ---+------------------->|  fsm::Session::process    |
//!  |   (decode with SetCodec     |   TcpConnected,    |    RFC 4271 8.2.2 FSM     |
//!  |    options, one message at  |   Received(msg),   |    negotiate.rs (OPEN)    |
//!  |    a time)                  |   DecodeError, ... |    event.rs (Input/Output)|
//!  | timers (one per TimerKind) -+------------------->|    backoff.rs (jitter)    |
//!  | RIB: PrefixCount,           |   TimerExpired     |    counters.rs            |
//!  |      UpdatesSent       -----+------------------->|                           |
//!  |                             |<-------------------+ Output (actions, ordered) |
//!  | write Send(msg), Connect,   |  Connect, Send,    +---------------------------+
//!  | Disconnect, (re)arm timers, |  Start/StopTimer,
//!  | RIB: Established, Down,     |  Established, Down,       collision.rs: which of two
//!  |   DeliverUpdate/RouteRefresh|  Deliver*, Log            connections to close
//!  +-----------------------------+
//! ```
//!
//! # Driving a session (what the daemon provides)
//!
//! - One `Session` per TCP connection, created with `Session::new(config, seed, now)`;
//!   `seed` from e.g. the peer address so timers differ between peers but replay in tests.
//! - Feed every event with `process(now, input)` and carry out the returned `Output`s in
//!   order, before feeding the next event. `now` is a monotonic `Instant`.
//! - Timers: one per `TimerKind`. `StartTimer(k, d)` (re)arms k to fire `d` from now,
//!   `StopTimer(k)` cancels it; a firing becomes `TimerExpired(k)`. An expiry that races
//!   a stop is harmless (ignored as stale).
//! - TCP: `Connect` opens a connection to the peer (port 179, MD5/TTL/GTSM as
//!   configured); success is `TcpConnected(Initiator::Local)`, failure
//!   `TcpConnectionFails`. An accepted connection from the peer (after checking the source
//!   against the neighbour or listen range) is `TcpConnected(Initiator::Remote)`; when it
//!   arrives while our own attempt is pending, the daemon abandons the attempt. If the
//!   session is already past Active, the accepted connection gets its own `Session`
//!   (started with `ManualStartPassive`) and `collision::resolve` decides, after each
//!   OPEN (`SetCodec` is the sign), which one receives `OpenCollisionDump`.
//!   `Disconnect` closes after flushing what `Send` queued: shut down the write side (FIN)
//!   and drain briefly rather than close with unread input, which sends an RST that can
//!   lose the NOTIFICATION just sent. A read or write error, or EOF, is
//!   `TcpConnectionFails`.
//! - Reading: split messages with `packet::frame` using the current `DecodeOptions`
//!   (`SetCodec` changes them after the OPEN), decode one message at a time, and feed
//!   `Received(msg)` or `DecodeError(err)`.
//! - RIB: `Established` starts the Adj-RIB-Out for the negotiated families; the writer
//!   reports `UpdatesSent` (it postpones KEEPALIVEs); `DeliverUpdate` carries the RFC
//!   7606 verdict; `Down` withdraws the peer's routes or keeps them stale (`stale`); the
//!   RIB reports accepted prefix counts with `PrefixCount` for max-prefix.
//! - CLI: `status(now)` is a serializable snapshot (`show bgp neighbor`).

pub mod backoff;
pub mod collision;
pub mod config;
pub mod counters;
pub mod event;
pub mod fsm;
pub mod negotiate;

pub use collision::{Initiator, Resolution};
pub use config::{
    GracefulRestartConfig, MaxPrefix, MaxPrefixAction, PeerConfig, RemoteAs, TimerConfig,
};
pub use counters::{Counters, SessionStatus};
pub use event::{Input, LogLevel, Output, StaleRoutes, State, StopReason, TimerKind};
pub use fsm::Session;
pub use negotiate::{build_open, negotiate, Negotiated, OpenError};
