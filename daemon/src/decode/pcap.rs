//! BGP messages out of a packet capture: pcap/pcapng frames -> IP -> TCP port 179 ->
//! per-direction stream reassembly (out of order, retransmitted and overlapping segments) ->
//! messages split on the BGP header's length field.
//!
//! Link layers: Ethernet (with 802.1Q tags), Linux cooked v1/v2 (`tcpdump -i any`), raw IP and
//! BSD loopback. What cannot be read is reported as a note, never a panic.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use pcap_parser::{Block, Linktype, PcapBlockOwned, PcapError};

const BGP_PORT: u16 = 179;
const MARKER: [u8; 16] = [0xff; 16];
const HEADER_LEN: usize = 19;

/// One BGP message found in a capture.
#[derive(Debug, Clone, PartialEq)]
pub struct CapturedMessage {
    /// 1-based number of the frame that completed the message (as Wireshark counts).
    pub frame: u64,
    /// Capture time of that frame, seconds since the epoch.
    pub timestamp: f64,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// The whole message, marker included.
    pub bytes: Vec<u8>,
}

/// What a capture held: the messages in stream order per direction (interleaved by the frame
/// that completed them), and notes on anything skipped.
#[derive(Debug, Default)]
pub struct CaptureContents {
    pub messages: Vec<CapturedMessage>,
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PcapReadError {
    #[error("not a pcap or pcapng file: {0}")]
    Format(String),
    #[error("reading capture: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads every BGP message (TCP port 179) from a pcap or pcapng stream.
pub fn read_capture<R: Read + Send>(input: R) -> Result<CaptureContents, PcapReadError> {
    let mut reader = pcap_parser::create_reader(1 << 16, input)
        .map_err(|e| PcapReadError::Format(format!("{e:?}")))?;
    let mut out = CaptureContents::default();
    let mut flows: HashMap<(SocketAddr, SocketAddr), Stream> = HashMap::new();
    // pcapng names a link type per interface; classic pcap one per file.
    let mut linktypes: Vec<Linktype> = Vec::new();
    let mut ts_resol: Vec<u8> = Vec::new();
    let mut frame: u64 = 0;
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                let packet = match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        linktypes = vec![h.network];
                        None
                    }
                    PcapBlockOwned::Legacy(b) => {
                        frame += 1;
                        let lt = linktypes.first().copied().unwrap_or(Linktype::ETHERNET);
                        // Nanosecond pcap files store ns in ts_usec; a fraction is close enough.
                        let ts = f64::from(b.ts_sec) + f64::from(b.ts_usec) / 1e6;
                        Some((lt, ts, b.data.to_vec()))
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                        linktypes.clear();
                        ts_resol.clear();
                        None
                    }
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        linktypes.push(idb.linktype);
                        ts_resol.push(idb.if_tsresol);
                        None
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        frame += 1;
                        let idx = epb.if_id as usize;
                        match linktypes.get(idx) {
                            Some(&lt) => {
                                let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                                let ts = ng_timestamp(raw, ts_resol.get(idx).copied().unwrap_or(6));
                                let len = (epb.caplen as usize).min(epb.data.len());
                                Some((lt, ts, epb.data[..len].to_vec()))
                            }
                            None => {
                                out.notes.push(format!(
                                    "frame {frame}: unknown interface {}",
                                    epb.if_id
                                ));
                                None
                            }
                        }
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        frame += 1;
                        let lt = linktypes.first().copied().unwrap_or(Linktype::ETHERNET);
                        Some((lt, 0.0, spb.data.to_vec()))
                    }
                    PcapBlockOwned::NG(_) => None,
                };
                reader.consume(offset);
                if let Some((lt, ts, data)) = packet {
                    handle_frame(frame, ts, lt, &data, &mut flows, &mut out);
                }
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if let Err(e) = reader.refill() {
                    // A capture cut short (tcpdump killed) ends in a partial block.
                    out.notes
                        .push(format!("capture ends in a partial block: {e:?}"));
                    break;
                }
            }
            Err(e) => {
                if frame == 0 {
                    return Err(PcapReadError::Format(format!("{e:?}")));
                }
                out.notes
                    .push(format!("stopped reading after frame {frame}: {e:?}"));
                break;
            }
        }
    }
    let mut leftover: Vec<_> = flows.into_iter().collect();
    leftover.sort_by_key(|(k, _)| *k);
    for ((src, dst), stream) in leftover {
        if !stream.buf.is_empty() {
            out.notes.push(format!(
                "{src} -> {dst}: {} octets at the end of the capture are not a whole message",
                stream.buf.len()
            ));
        }
        if !stream.pending.is_empty() {
            out.notes.push(format!(
                "{src} -> {dst}: {} segments after a gap in the stream were not decoded",
                stream.pending.len()
            ));
        }
    }
    Ok(out)
}

fn ng_timestamp(raw: u64, resol: u8) -> f64 {
    // if_tsresol: high bit set = power of 2, else power of 10 (default 6 = microseconds).
    let units = if resol & 0x80 != 0 {
        2f64.powi(i32::from(resol & 0x7f))
    } else {
        10f64.powi(i32::from(resol))
    };
    raw as f64 / units
}

fn handle_frame(
    frame: u64,
    ts: f64,
    lt: Linktype,
    data: &[u8],
    flows: &mut HashMap<(SocketAddr, SocketAddr), Stream>,
    out: &mut CaptureContents,
) {
    let Some(ip) = link_payload(lt, data) else {
        return;
    };
    let Some(seg) = tcp_segment(ip) else {
        return;
    };
    if seg.src.port() != BGP_PORT && seg.dst.port() != BGP_PORT {
        return;
    }
    let stream = flows.entry((seg.src, seg.dst)).or_default();
    if seg.syn {
        // A new connection on the same addresses starts a fresh stream.
        *stream = Stream {
            next: Some(seg.seq.wrapping_add(1)),
            ..Stream::default()
        };
        return;
    }
    if seg.payload.is_empty() {
        return;
    }
    stream.push(seg.seq, seg.payload);
    stream.split(frame, ts, seg.src, seg.dst, out);
}

/// The IP packet inside a link-layer frame, if it is IPv4 or IPv6.
fn link_payload(lt: Linktype, d: &[u8]) -> Option<&[u8]> {
    let (ethertype, rest) = match lt {
        Linktype::ETHERNET => {
            let mut et = u16::from_be_bytes([*d.get(12)?, *d.get(13)?]);
            let mut off = 14;
            // 802.1Q / 802.1ad tags.
            while et == 0x8100 || et == 0x88a8 {
                et = u16::from_be_bytes([*d.get(off + 2)?, *d.get(off + 3)?]);
                off += 4;
            }
            (et, d.get(off..)?)
        }
        Linktype::LINUX_SLL => (u16::from_be_bytes([*d.get(14)?, *d.get(15)?]), d.get(16..)?),
        Linktype::LINUX_SLL2 => (u16::from_be_bytes([*d.first()?, *d.get(1)?]), d.get(20..)?),
        Linktype::NULL | Linktype::LOOP => {
            let rest = d.get(4..)?;
            return matches!(rest.first()? >> 4, 4 | 6).then_some(rest);
        }
        Linktype::RAW | Linktype::IPV4 | Linktype::IPV6 => {
            return matches!(d.first()? >> 4, 4 | 6).then_some(d);
        }
        _ => return None,
    };
    matches!(ethertype, 0x0800 | 0x86dd).then_some(rest)
}

struct Segment<'a> {
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    syn: bool,
    payload: &'a [u8],
}

fn tcp_segment(ip: &[u8]) -> Option<Segment<'_>> {
    let (src, dst, tcp) = match ip.first()? >> 4 {
        4 => {
            let ihl = usize::from(ip.first()? & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
            let frag = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]);
            // Fragments are rare on BGP sessions (DF is set); skip them rather than guess.
            if *ip.get(9)? != 6 || frag & 0x3fff != 0 || ihl < 20 {
                return None;
            }
            let src = Ipv4Addr::new(*ip.get(12)?, *ip.get(13)?, *ip.get(14)?, *ip.get(15)?);
            let dst = Ipv4Addr::new(*ip.get(16)?, *ip.get(17)?, *ip.get(18)?, *ip.get(19)?);
            // Frames may carry Ethernet padding past the IP total length.
            let end = total.min(ip.len());
            (IpAddr::V4(src), IpAddr::V4(dst), ip.get(ihl..end)?)
        }
        6 => {
            let plen = usize::from(u16::from_be_bytes([*ip.get(4)?, *ip.get(5)?]));
            let src: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            let mut next = *ip.get(6)?;
            let end = (40 + plen).min(ip.len());
            let mut off = 40;
            // Skip hop-by-hop, routing and destination options headers.
            while matches!(next, 0 | 43 | 60) {
                next = *ip.get(off)?;
                off += (usize::from(*ip.get(off + 1)?) + 1) * 8;
            }
            if next != 6 {
                return None;
            }
            (
                IpAddr::V6(Ipv6Addr::from(src)),
                IpAddr::V6(Ipv6Addr::from(dst)),
                ip.get(off..end)?,
            )
        }
        _ => return None,
    };
    let sport = u16::from_be_bytes([*tcp.first()?, *tcp.get(1)?]);
    let dport = u16::from_be_bytes([*tcp.get(2)?, *tcp.get(3)?]);
    let seq = u32::from_be_bytes(tcp.get(4..8)?.try_into().ok()?);
    let data_off = usize::from(tcp.get(12)? >> 4) * 4;
    let flags = *tcp.get(13)?;
    Some(Segment {
        src: SocketAddr::new(src, sport),
        dst: SocketAddr::new(dst, dport),
        seq,
        syn: flags & 0x02 != 0,
        payload: tcp.get(data_off..)?,
    })
}

/// One direction of a TCP connection.
#[derive(Default)]
struct Stream {
    /// Sequence number of the next in-order octet; None until the first segment.
    next: Option<u32>,
    /// Segments that arrived ahead of a gap, by sequence number.
    pending: BTreeMap<u32, Vec<u8>>,
    /// In-order octets not yet split into messages.
    buf: Vec<u8>,
    /// Resynchronised on a marker after joining mid-stream.
    synced: bool,
}

impl Stream {
    fn push(&mut self, seq: u32, payload: &[u8]) {
        let next = *self.next.get_or_insert(seq);
        // Signed distance copes with sequence-number wrap.
        let ahead = seq.wrapping_sub(next) as i32;
        if ahead > 0 {
            self.pending.entry(seq).or_insert_with(|| payload.to_vec());
            return;
        }
        let skip = ahead.unsigned_abs() as usize;
        if skip < payload.len() {
            self.append(&payload[skip..]);
        }
        // Pull in segments that are now contiguous.
        while let Some((&s, _)) = self.pending.first_key_value() {
            let next = self.next.unwrap_or(s);
            let ahead = s.wrapping_sub(next) as i32;
            if ahead > 0 {
                break;
            }
            let Some((_, data)) = self.pending.pop_first() else {
                break;
            };
            let skip = ahead.unsigned_abs() as usize;
            if skip < data.len() {
                self.append(&data[skip..]);
            }
        }
    }

    fn append(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
        let n = data.len() as u32;
        self.next = self.next.map(|s| s.wrapping_add(n));
    }

    fn split(
        &mut self,
        frame: u64,
        ts: f64,
        src: SocketAddr,
        dst: SocketAddr,
        out: &mut CaptureContents,
    ) {
        let mut start = 0;
        loop {
            let rest = &self.buf[start..];
            if rest.len() < HEADER_LEN {
                break;
            }
            if rest[..16] != MARKER {
                // Joined mid-stream or lost a segment: find the next marker.
                match find_marker(rest) {
                    Some(pos) => {
                        if self.synced {
                            out.notes.push(format!(
                                "frame {frame}: {src} -> {dst}: skipped {pos} octets before a marker"
                            ));
                        }
                        start += pos;
                        continue;
                    }
                    None => {
                        // Keep the tail: a marker may straddle the next segment.
                        start += rest.len().saturating_sub(15);
                        break;
                    }
                }
            }
            self.synced = true;
            let len = usize::from(u16::from_be_bytes([rest[16], rest[17]]));
            // A bad length is still shown: the decoder reports it. Only the header is taken.
            let take = if len < HEADER_LEN { HEADER_LEN } else { len };
            if rest.len() < take {
                break;
            }
            out.messages.push(CapturedMessage {
                frame,
                timestamp: ts,
                src,
                dst,
                bytes: rest[..take].to_vec(),
            });
            start += take;
        }
        self.buf.drain(..start);
    }
}

/// Start of the next marker: the last 16 octets of a run of 0xff, since stray 0xff octets can
/// precede it (the length field's high octet is never 0xff on a message we could read).
fn find_marker(b: &[u8]) -> Option<usize> {
    let first = b.windows(16).position(|w| w == MARKER)?;
    let run = b[first..].iter().take_while(|&&x| x == 0xff).count();
    Some(first + run - 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keepalive() -> Vec<u8> {
        let mut m = vec![0xff; 16];
        m.extend_from_slice(&[0, 19, 4]);
        m
    }

    fn stream_of(segments: &[(u32, &[u8])]) -> Vec<Vec<u8>> {
        let mut s = Stream {
            next: Some(1000),
            ..Stream::default()
        };
        let mut out = CaptureContents::default();
        let a: SocketAddr = "10.0.0.1:179".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:40000".parse().unwrap();
        for (i, (seq, data)) in segments.iter().enumerate() {
            s.push(*seq, data);
            s.split(i as u64 + 1, 0.0, a, b, &mut out);
        }
        out.messages.into_iter().map(|m| m.bytes).collect()
    }

    #[test]
    fn splits_and_reassembles_across_segments() {
        let mut two = keepalive();
        two.extend(keepalive());
        // Second message split over three segments.
        let msgs = stream_of(&[(1000, &two[..25]), (1025, &two[25..30]), (1030, &two[30..])]);
        assert_eq!(msgs, vec![keepalive(), keepalive()]);
    }

    #[test]
    fn handles_out_of_order_and_retransmission() {
        let mut two = keepalive();
        two.extend(keepalive());
        let msgs = stream_of(&[
            (1019, &two[19..]),  // arrives first, ahead of a gap
            (1000, &two[..10]),  // fills part of the gap
            (1000, &two[..10]),  // retransmission: ignored
            (1005, &two[5..19]), // overlaps what we have
        ]);
        assert_eq!(msgs, vec![keepalive(), keepalive()]);
    }

    #[test]
    fn resyncs_on_marker_when_joining_mid_stream() {
        let mut data = vec![1, 2, 3, 0xff, 0xff];
        data.extend(keepalive());
        assert_eq!(stream_of(&[(1000, &data)]), vec![keepalive()]);
    }

    #[test]
    fn bad_length_yields_header_only() {
        let mut m = vec![0xff; 16];
        m.extend_from_slice(&[0, 5, 4]);
        m.extend(keepalive());
        let msgs = stream_of(&[(1000, &m)]);
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].len(), 19);
        assert_eq!(msgs[1], keepalive());
    }

    /// A classic pcap file (Ethernet, IPv4, TCP) built by hand, with the KEEPALIVE split over
    /// two frames.
    #[test]
    fn reads_classic_pcap_file() {
        let ka = keepalive();
        let frames = [(1000u32, &ka[..10]), (1010u32, &ka[10..])];
        let mut file = Vec::new();
        file.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
        file.extend_from_slice(&2u16.to_le_bytes());
        file.extend_from_slice(&4u16.to_le_bytes());
        file.extend_from_slice(&[0; 8]);
        file.extend_from_slice(&65535u32.to_le_bytes());
        file.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
        for (seq, payload) in frames {
            let mut tcp = vec![0xb3, 0x2a, 0x00, 0xb3]; // 45866 -> 179
            tcp.extend_from_slice(&seq.to_be_bytes());
            tcp.extend_from_slice(&[0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
            tcp.extend_from_slice(payload);
            let total = (20 + tcp.len()) as u16;
            let mut ip = vec![0x45, 0];
            ip.extend_from_slice(&total.to_be_bytes());
            ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 2]);
            ip.extend(tcp);
            let mut eth = vec![0; 12];
            eth.extend_from_slice(&[0x08, 0x00]);
            eth.extend(ip);
            file.extend_from_slice(&1u32.to_le_bytes());
            file.extend_from_slice(&0u32.to_le_bytes());
            file.extend_from_slice(&(eth.len() as u32).to_le_bytes());
            file.extend_from_slice(&(eth.len() as u32).to_le_bytes());
            file.extend(eth);
        }
        let got = read_capture(&file[..]).unwrap();
        assert_eq!(got.messages.len(), 1, "notes: {:?}", got.notes);
        assert_eq!(got.messages[0].bytes, ka);
        assert_eq!(got.messages[0].frame, 2);
        assert_eq!(got.messages[0].dst, "127.0.0.2:179".parse().unwrap());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(read_capture(&b"definitely not a capture file"[..]).is_err());
    }
}
