//! BGP-4 for evpnd: the wire codec (RFC 4271, RFC 4760, RFC 7432/8365 EVPN), and later the
//! session FSM and RIB. Everything here is sans-IO: plain data in, plain data out.

pub mod packet;
pub mod rib;
