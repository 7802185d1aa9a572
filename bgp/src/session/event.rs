//! The session's vocabulary: its states and timers, the inputs it is fed and the
//! outputs it returns (see `fsm.rs` for what it does with them).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::collision::Initiator;
use super::negotiate::Negotiated;
use crate::packet::{AfiSafi, DecodeOptions, Message, MessageError, RouteRefresh, Update, Verdict};

/// RFC 4271 section 8.2.2 states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum State {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

/// The timers the caller runs for the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TimerKind {
    ConnectRetry,
    Hold,
    Keepalive,
    /// Delay before the automatic restart after an error (RFC 4271 8.1.1 damping), or
    /// the max-prefix restart delay.
    IdleHold,
    /// RFC 4271 DelayOpenTimer: wait this long after TCP is up for the peer's OPEN
    /// before sending ours (FRR `timers delayopen`); only with `TimerConfig::delay_open`.
    DelayOpen,
}

/// Why an operator (or the daemon) stops the session; picks the Cease subcode
/// (RFC 4486) and whether the session comes back by itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopReason {
    /// `neighbor X shutdown [message M]`: 6/2 with the RFC 9003 message; stays down.
    AdminShutdown { message: Option<String> },
    /// `clear bgp X`: 6/4; restarts after the minimum idle hold.
    AdminReset { message: Option<String> },
    /// The neighbour was removed from the config: 6/3; stays down.
    PeerDeconfigured,
    /// A setting changed that needs a new session: 6/6; restarts.
    OtherConfigChange,
    /// The daemon is out of memory or similar: 6/8; restarts with damping.
    OutOfResources,
}

/// Everything that can happen to a session (RFC 4271 section 8.1 events, plus the
/// daemon's and RIB's inputs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Event 1.
    ManualStart,
    /// Event 4: wait for the peer to connect first.
    ManualStartPassive,
    /// Event 3.
    AutomaticStart,
    /// Event 5.
    AutomaticStartPassive,
    /// Event 2 (and Event 8 AutomaticStop for `OutOfResources`).
    ManualStop(StopReason),
    /// Events 9-13: a timer the session started (and did not stop) fired.
    TimerExpired(TimerKind),
    /// Event 16 TcpCRAcked (`Local`) or Event 17 TcpConnectionConfirmed (`Remote`).
    TcpConnected(Initiator),
    /// Event 18.
    TcpConnectionFails,
    /// Events 19 BGPOpen, 24/25 NotifMsg, 26 KeepAliveMsg, 27 UpdateMsg / 28 UpdateMsgErr
    /// (the UPDATE's RFC 7606 verdict decides which), and ROUTE-REFRESH.
    Received(Message),
    /// Events 21 BGPHeaderErr, 22 BGPOpenMsgErr (and a bad ROUTE-REFRESH length): the
    /// codec refused a message and says which NOTIFICATION to send.
    DecodeError(MessageError),
    /// Event 23: collision resolution chose to close this connection.
    OpenCollisionDump,
    /// RFC 9687 SendHoldTimer_Expires: what we queued for the peer did not move for the
    /// send hold time (the peer does not read). The timer is the IO layer's, since only it
    /// sees the socket's write progress.
    SendHoldTimerExpired,
    /// From the RIB: prefixes accepted from this peer for a family (for max-prefix).
    PrefixCount { family: AfiSafi, count: u64 },
    /// From the Adj-RIB-Out writer: it sent this many UPDATEs on the connection (they
    /// are counted, and they postpone the next KEEPALIVE).
    UpdatesSent { count: u64 },
    /// Ask the peer to re-send a family (soft reset in; RFC 2918, RFC 7313 subtypes).
    SendRouteRefresh(RouteRefresh),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

/// What the caller must do, in order. Serializable so the daemon can trace sessions
/// as JSON lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Output {
    /// Open a TCP connection to the peer (never for passive peers).
    Connect,
    /// Close the TCP connection (after writing anything already queued by `Send`), or
    /// abandon the connection attempt.
    Disconnect,
    Send(Message),
    /// (Re)arm a timer to fire after the duration; feed back `TimerExpired(kind)`.
    StartTimer(TimerKind, Duration),
    StopTimer(TimerKind),
    StateChange {
        from: State,
        to: State,
    },
    /// Decode everything after the peer's OPEN with these options.
    SetCodec(DecodeOptions),
    /// The session is up with these parameters: start sending routes (for the
    /// negotiated families only).
    Established(Box<Negotiated>),
    /// The session left Established. With `stale` set the peer announced graceful
    /// restart and the way it ended keeps GR semantics (RFC 4724, RFC 8538): the RIB
    /// keeps those routes as stale instead of withdrawing them; else it withdraws all.
    Down {
        reason: String,
        stale: Option<StaleRoutes>,
    },
    /// An UPDATE for the RIB, with its RFC 7606 verdict (Accept, AttributeDiscard or
    /// TreatAsWithdraw; never SessionReset).
    DeliverUpdate {
        update: Update,
        verdict: Verdict,
    },
    DeliverRouteRefresh(RouteRefresh),
    Log {
        level: LogLevel,
        text: String,
    },
}

/// What the RIB keeps when a session ends gracefully (RFC 4724 section 4.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleRoutes {
    /// The peer's Restart Time: delete the stale routes if the session is not back
    /// (Established) by then.
    pub restart_time: Duration,
    /// The families the peer listed in its GR capability; routes of any other family
    /// are withdrawn at once.
    pub families: Vec<AfiSafi>,
}
