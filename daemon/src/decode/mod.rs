//! `evpnctl decode`: BGP messages from hex or a capture, printed as a tree or JSON.

pub mod input;
pub mod pcap;
