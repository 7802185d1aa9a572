//! A BGP peer session, sans-IO: plain events in, plain actions out. Messages, capabilities
//! and NOTIFICATIONs are the codec's types (`crate::packet`).
//!
//! ```text
//!            daemon (tokio)                               session (this module)
//!  +-----------------------------+   Input (events)   +---------------------------+
//!  | TCP connect/accept/read  ---+------------------->|  fsm::Session::process    |
//!  |   (decode with SetCodec     |   TcpConnected,    |    RFC 4271 8.2.2 FSM     |
//!  |    options, one message at  |   Received(msg),   |    negotiate.rs (OPEN)    |
//!  |    a time)                  |   DecodeError, ... |                           |
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

pub mod backoff;
pub mod collision;
pub mod config;
pub mod counters;
pub mod fsm;
pub mod negotiate;

pub use collision::{Initiator, Resolution};
pub use config::{
    GracefulRestartConfig, MaxPrefix, MaxPrefixAction, PeerConfig, RemoteAs, TimerConfig,
};
pub use counters::{Counters, SessionStatus};
pub use fsm::{Input, LogLevel, Output, Session, StaleRoutes, State, StopReason, TimerKind};
pub use negotiate::{build_open, negotiate, Negotiated, OpenError};
