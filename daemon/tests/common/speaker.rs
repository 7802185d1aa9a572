//! A raw BGP speaker over loopback, built on the bgp crate's codec: EVPN type-2 route
//! sets packed into UPDATEs, the OPEN/KEEPALIVE exchange, KEEPALIVEs on time, and a
//! reader that keeps the routes received as state. Shared by the daemon's tests and
//! `examples/blast.rs` (which includes this file by path), so neither copies it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use bgp::packet::capability::Capability;
use bgp::packet::evpn::{Esi, EvpnNlri, Label, MacIpAdvertisement};
use bgp::packet::extcomm::{ExtendedCommunity, RouteTarget};
use bgp::packet::mp::MpNlri;
use bgp::packet::types::{MacAddress, RouteDistinguisher};
use bgp::packet::{
    frame, pack_evpn_updates, pack_evpn_withdrawals, AfiSafi, DecodeOptions, Message, Open, Update,
};
use bgp::rib::PathAttrs;
use bytes::BytesMut;

/// N type-2 routes: route i is in VNI `vni_base + i % vnis`, from VTEP `10.200.x.y`
/// number `(i / vnis) % vteps`, RD `VTEP:VNI`, RT `asn:VNI`, MAC `02:00:00:i`, IPv4
/// `10.i` unless `mac_only`: one attribute set per (VNI, VTEP), packed into 4096-octet
/// UPDATEs like a fabric's route reflector sends them.
#[derive(Clone, Debug)]
pub struct Type2Set {
    pub routes: u32,
    pub vnis: u32,
    pub vni_base: u32,
    pub vteps: u32,
    pub mac_only: bool,
    pub asn: u32,
}

/// The VTEP address of VTEP number `t` (10.200.0.1 ...).
pub fn vtep(t: u32) -> Ipv4Addr {
    let n = t + 1;
    Ipv4Addr::new(10, 200, (n >> 8) as u8, n as u8)
}

impl Type2Set {
    /// Route `i`'s (VNI index, VTEP index) and NLRI.
    pub fn route(&self, i: u32) -> (u32, u32, EvpnNlri) {
        let (v, t) = (i % self.vnis, (i / self.vnis) % self.vteps);
        let vni = self.vni_base + v;
        let [_, x, y, z] = i.to_be_bytes();
        let nlri = EvpnNlri::MacIp(MacIpAdvertisement {
            rd: RouteDistinguisher::Ipv4 {
                addr: vtep(t),
                number: vni as u16,
            },
            esi: Esi::ZERO,
            ethernet_tag: 0,
            mac_len: 48,
            mac: MacAddress([0x02, 0, 0, x, y, z]),
            ip: (!self.mac_only).then(|| IpAddr::V4(Ipv4Addr::new(10, x, y, z))),
            label1: Label::from_vni(vni),
            label2: None,
        });
        (v, t, nlri)
    }

    /// UPDATEs announcing the routes `keep` selects (MED `med` when given), back to back
    /// in one buffer, and how many UPDATEs that is.
    pub fn announce(
        &self,
        med: Option<u32>,
        keep: impl Fn(u32) -> bool,
    ) -> Result<(Vec<u8>, usize), String> {
        let opts = DecodeOptions::default();
        let groups = (self.vnis * self.vteps) as usize;
        let mut per: Vec<Vec<EvpnNlri>> = vec![Vec::new(); groups];
        for i in (0..self.routes).filter(|i| keep(*i)) {
            let (v, t, nlri) = self.route(i);
            per[(v * self.vteps + t) as usize].push(nlri);
        }
        let mut wire = Vec::new();
        let mut n = 0;
        for (g, routes) in per.iter().enumerate() {
            if routes.is_empty() {
                continue;
            }
            let (v, t) = (g as u32 / self.vteps, g as u32 % self.vteps);
            let attrs = PathAttrs {
                local_pref: Some(100),
                med,
                ext_communities: vec![
                    ExtendedCommunity::route_target(RouteTarget::As2 {
                        asn: self.asn as u16,
                        value: self.vni_base + v,
                    }),
                    ExtendedCommunity::vxlan_encapsulation(),
                ],
                ..Default::default()
            };
            let nh = IpAddr::V4(vtep(t));
            for m in pack_evpn_updates(&attrs.to_attributes(), nh, routes, &opts)
                .map_err(|e| e.to_string())?
            {
                wire.extend_from_slice(&m);
                n += 1;
            }
        }
        Ok((wire, n))
    }

    /// UPDATEs withdrawing the routes `gone` selects, back to back in one buffer.
    pub fn withdraw(&self, gone: impl Fn(u32) -> bool) -> Result<Vec<u8>, String> {
        let routes: Vec<EvpnNlri> = (0..self.routes)
            .filter(|i| gone(*i))
            .map(|i| self.route(i).2)
            .collect();
        let mut wire = Vec::new();
        for m in
            pack_evpn_withdrawals(&routes, &DecodeOptions::default()).map_err(|e| e.to_string())?
        {
            wire.extend_from_slice(&m);
        }
        Ok(wire)
    }
}

/// End-of-RIB for L2VPN EVPN, encoded.
pub fn end_of_rib() -> Result<Vec<u8>, String> {
    Message::Update(Update::end_of_rib(AfiSafi::L2VPN_EVPN))
        .to_bytes(&DecodeOptions::default())
        .map(|b| b.to_vec())
        .map_err(|e| e.to_string())
}

/// One BGP session over a blocking socket: writes are whole messages under a lock (the
/// KEEPALIVE thread and the caller never interleave their bytes).
pub struct Speaker {
    /// For reading; `take_reader` hands it (and what the handshake read past the
    /// KEEPALIVE) to a reader.
    reader: Option<(TcpStream, BytesMut)>,
    writer: Arc<Mutex<TcpStream>>,
    stop: Arc<AtomicBool>,
    keepalives: Option<JoinHandle<()>>,
}

impl Speaker {
    /// Connects from `from` to `to` (both loopback), with SO_RCVBUF `rcvbuf` when given,
    /// and exchanges OPEN (hold time `hold`, EVPN) and KEEPALIVE with the daemon.
    pub fn connect(
        from: Ipv4Addr,
        to: SocketAddr,
        asn: u32,
        hold: u16,
        rcvbuf: Option<u32>,
    ) -> Result<Self, String> {
        if !from.is_loopback() || !to.ip().is_loopback() {
            return Err(format!("{from} -> {to}: loopback only"));
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(|e| e.to_string())?;
        let s = rt.block_on(async {
            let sock = tokio::net::TcpSocket::new_v4()?;
            if let Some(n) = rcvbuf {
                // Before connect, so the window offered in the handshake is small too.
                sock.set_recv_buffer_size(n)?;
            }
            sock.bind(SocketAddr::new(IpAddr::V4(from), 0))?;
            sock.connect(to).await
        });
        let s = s
            .and_then(|s| s.into_std())
            .map_err(|e| format!("connect {to}: {e}"))?;
        s.set_nonblocking(false).map_err(|e| e.to_string())?;
        s.set_nodelay(true).map_err(|e| e.to_string())?;
        let opts = DecodeOptions::default();
        let open = Open::new(
            asn,
            hold,
            from,
            vec![
                Capability::Multiprotocol(AfiSafi::L2VPN_EVPN),
                Capability::RouteRefresh,
                Capability::FourOctetAs(asn),
            ],
        );
        let mut w = &s;
        for m in [Message::Open(open), Message::Keepalive] {
            let b = m.to_bytes(&opts).map_err(|e| e.to_string())?;
            w.write_all(&b).map_err(|e| e.to_string())?;
        }
        // The daemon's OPEN and KEEPALIVE; anything after them stays in `buf`.
        let mut buf = BytesMut::with_capacity(8192);
        let mut seen = (false, false);
        let mut r = &s;
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        while !(seen.0 && seen.1) {
            let mut chunk = [0u8; 512];
            let n = r.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("the daemon closed the connection during OPEN".into());
            }
            buf.extend_from_slice(&chunk[..n]);
            while !(seen.0 && seen.1) {
                let Some(m) = frame(&mut buf, 4096).map_err(|e| e.to_string())? else {
                    break;
                };
                match Message::decode(&m, &opts) {
                    Ok(Message::Open(_)) => seen.0 = true,
                    Ok(Message::Keepalive) => seen.1 = true,
                    Ok(Message::Notification(n)) => return Err(format!("NOTIFICATION {n:?}")),
                    _ => {}
                }
            }
        }
        s.set_read_timeout(None).map_err(|e| e.to_string())?;
        let writer = s.try_clone().map_err(|e| e.to_string())?;
        Ok(Self {
            reader: Some((s, buf)),
            writer: Arc::new(Mutex::new(writer)),
            stop: Arc::new(AtomicBool::new(false)),
            keepalives: None,
        })
    }

    /// Writes `wire` (whole messages) to the daemon.
    pub fn send(&self, wire: &[u8]) -> Result<(), String> {
        let mut w = self.writer.lock().map_err(|e| e.to_string())?;
        w.write_all(wire).map_err(|e| e.to_string())
    }

    /// A KEEPALIVE every `every` from a thread, until the speaker is dropped: the
    /// daemon's hold timer never expires, whatever the caller reads.
    pub fn keep_alive(&mut self, every: Duration) -> Result<(), String> {
        let ka = Message::Keepalive
            .to_bytes(&DecodeOptions::default())
            .map_err(|e| e.to_string())?
            .to_vec();
        let (w, stop) = (self.writer.clone(), self.stop.clone());
        self.keepalives = Some(std::thread::spawn(move || {
            let tick = Duration::from_millis(50);
            let mut waited = Duration::ZERO;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                waited += tick;
                if waited < every {
                    continue;
                }
                waited = Duration::ZERO;
                let ok = w.lock().is_ok_and(|mut s| s.write_all(&ka).is_ok());
                if !ok {
                    return;
                }
            }
        }));
        Ok(())
    }

    /// The read side with what the handshake read past the daemon's KEEPALIVE (once).
    pub fn take_reader(&mut self) -> Option<(TcpStream, BytesMut)> {
        self.reader.take()
    }

    /// Reads everything the daemon sends into `into` from a thread, until EOF.
    pub fn spawn_reader(&mut self, into: Arc<Mutex<Received>>) -> Result<(), String> {
        let (mut s, mut buf) = self.take_reader().ok_or("the reader is taken")?;
        std::thread::spawn(move || {
            let mut chunk = vec![0u8; 65536];
            loop {
                let done = match into.lock() {
                    Ok(mut r) => r.absorb(&mut buf).is_err(),
                    Err(_) => true,
                };
                if done {
                    return;
                }
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => {
                        if let Ok(mut r) = into.lock() {
                            r.closed = true;
                        }
                        return;
                    }
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
        });
        Ok(())
    }
}

impl Drop for Speaker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Ok(s) = self.writer.lock() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        if let Some(h) = self.keepalives.take() {
            let _ = h.join();
        }
    }
}

/// What a speaker received, kept as state: the EVPN routes present (with their MED),
/// how often each was announced, the counts of everything, End-of-RIB.
#[derive(Default, Debug)]
pub struct Received {
    pub present: HashMap<EvpnNlri, Option<u32>>,
    pub times: HashMap<EvpnNlri, u32>,
    pub updates: u64,
    pub announced: u64,
    pub withdrawn: u64,
    pub keepalives: u64,
    /// End-of-RIB for L2VPN EVPN came.
    pub eor: bool,
    /// How many routes were present when End-of-RIB came.
    pub routes_at_eor: Option<usize>,
    pub notification: Option<String>,
    /// The daemon closed the connection.
    pub closed: bool,
    /// A message that did not decode.
    pub error: Option<String>,
}

impl Received {
    /// Takes every whole message out of `buf`; an error (also recorded) ends reading.
    pub fn absorb(&mut self, buf: &mut BytesMut) -> Result<(), String> {
        let opts = DecodeOptions::default();
        loop {
            let m = match frame(buf, opts.max_len()) {
                Ok(Some(m)) => m,
                Ok(None) => return Ok(()),
                Err(e) => return Err(self.fail(e.to_string())),
            };
            match Message::decode(&m, &opts) {
                Ok(Message::Update(u)) => self.update(&u),
                Ok(Message::Keepalive) => self.keepalives += 1,
                Ok(Message::Notification(n)) => self.notification = Some(format!("{n:?}")),
                Ok(_) => {}
                Err(e) => return Err(self.fail(e.to_string())),
            }
        }
    }

    fn fail(&mut self, e: String) -> String {
        self.error = Some(e.clone());
        e
    }

    fn update(&mut self, u: &Update) {
        self.updates += 1;
        if u.is_end_of_rib() == Some(AfiSafi::L2VPN_EVPN) {
            self.eor = true;
            self.routes_at_eor = Some(self.present.len());
            return;
        }
        if let Some(MpNlri::Evpn(v)) = u.mp_unreach().map(|m| &m.nlri) {
            for n in v {
                self.withdrawn += 1;
                self.present.remove(n);
            }
        }
        if let Some(MpNlri::Evpn(v)) = u.mp_reach().map(|m| &m.nlri) {
            let med = u.med();
            for n in v {
                self.announced += 1;
                *self.times.entry(n.clone()).or_default() += 1;
                self.present.insert(n.clone(), med);
            }
        }
    }

    /// Routes present with MED `med`.
    pub fn with_med(&self, med: Option<u32>) -> usize {
        self.present.values().filter(|m| **m == med).count()
    }
}
