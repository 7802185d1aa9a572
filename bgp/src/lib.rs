//! BGP-4 for evpnd, all sans-IO (plain data in, plain data out): the wire codec (RFC 4271,
//! RFC 4760, RFC 7432/8365 EVPN, RFC 7606 error handling), the session FSM with capability
//! negotiation, and the RIB (Adj-RIB-In, Loc-RIB with best path, Adj-RIB-Out as state).

pub mod packet;
pub mod rib;
pub mod session;
