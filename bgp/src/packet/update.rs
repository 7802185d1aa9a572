//! UPDATE message (RFC 4271 section 4.3), decoded losslessly: attributes keep their received
//! flags and order, so a received UPDATE re-encodes to the same octets. Malformations are
//! recorded as RFC 7606 says (see `error.rs`); `Update::verdict()` says what to do.
//!
//! ```text
//! +-----------------------------------------------------+
//! |   Withdrawn Routes Length (2 octets)                |
//! +-----------------------------------------------------+
//! |   Withdrawn Routes (variable)                       |
//! +-----------------------------------------------------+
//! |   Total Path Attribute Length (2 octets)            |
//! +-----------------------------------------------------+
//! |   Path Attributes (variable)                        |
//! +-----------------------------------------------------+
//! |   Network Layer Reachability Information (variable) |
//! +-----------------------------------------------------+
//! ```

use std::net::{IpAddr, Ipv4Addr};

use bytes::{BufMut, BytesMut};
use nom::bytes::complete::take;
use nom::combinator::consumed;
use nom::sequence::preceded;
use nom::Parser;
use serde::{Deserialize, Serialize};

use super::afi::AfiSafi;
use super::aspath::{AsPath, SegmentType};
use super::attribute::{
    code, expected_flags, flags, Attribute, Community, LargeCommunity, Origin, PathAttribute,
};
use super::error::{verdict, Fault, Malformation, Verdict};
use super::evpn::EvpnNlri;
use super::extcomm::ExtendedCommunity;
use super::message::{msg_type, DecodeOptions, EncodeError, HEADER_LEN, MARKER};
use super::mp::{MpNextHop, MpNlri, MpReach, MpUnreach};
use super::parse::{be_u16, be_u8, PResult};
use super::pmsi::PmsiTunnel;
use super::prefix::Ipv4Prefix;

/// An UPDATE. `malformations` is empty for a well-formed one.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Update {
    pub withdrawn: Vec<Ipv4Prefix>,
    /// Received order. Malformed and duplicate attributes are not here (see
    /// `malformations`).
    pub attributes: Vec<PathAttribute>,
    pub nlri: Vec<Ipv4Prefix>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformations: Vec<Malformation>,
}

/// A set of seen attribute type codes.
struct Seen([u64; 4]);

impl Seen {
    /// Marks `t`; true if it was already there.
    fn insert(&mut self, t: u8) -> bool {
        let (w, b) = (usize::from(t / 64), 1u64 << (t % 64));
        let was = self.0[w] & b != 0;
        self.0[w] |= b;
        was
    }

    fn contains(&self, t: u8) -> bool {
        self.0[usize::from(t / 64)] & (1u64 << (t % 64)) != 0
    }
}

impl Update {
    /// Decodes an UPDATE body (after the header). Never fails: what is malformed is in
    /// `malformations`, and `verdict()` turns it into the action to take.
    pub fn decode(body: &[u8], opts: &DecodeOptions) -> Update {
        let mut u = Update::default();
        let mal = &mut u.malformations;
        // Withdrawn Routes Length(2) Withdrawn Routes, Total Path Attribute Length(2)
        // Path Attributes, then the NLRI to the end.
        let Ok((rest, wl)) = be_u16(body) else {
            mal.push(Malformation::new(
                None,
                Fault::WithdrawnLengthOverrun,
                "no length",
                vec![],
            ));
            return u;
        };
        let wl = usize::from(wl);
        let Ok((rest, withdrawn)) = take::<_, _, ()>(wl)(rest) else {
            mal.push(Malformation::new(
                None,
                Fault::WithdrawnLengthOverrun,
                format!("length {wl}"),
                vec![],
            ));
            return u;
        };
        let Ok((rest, al)) = be_u16(rest) else {
            mal.push(Malformation::new(
                None,
                Fault::WithdrawnLengthOverrun,
                format!("length {wl}"),
                vec![],
            ));
            return u;
        };
        let al = usize::from(al);
        let Ok((nlri, area)) = take::<_, _, ()>(al)(rest) else {
            mal.push(Malformation::new(
                None,
                Fault::AttributeLengthOverrun,
                format!("length {al}"),
                vec![],
            ));
            return u;
        };
        match Ipv4Prefix::decode_list(withdrawn) {
            Ok(w) => u.withdrawn = w,
            Err(e) => u.malformations.push(Malformation::new(
                None,
                Fault::InvalidWithdrawnRoutes,
                e.to_string(),
                vec![],
            )),
        }
        let seen = u.decode_attributes(area, opts);
        match Ipv4Prefix::decode_list(nlri) {
            Ok(n) => u.nlri = n,
            Err(e) => u.malformations.push(Malformation::new(
                None,
                Fault::InvalidNlri,
                e.to_string(),
                vec![],
            )),
        }
        // RFC 7606 3 (d), RFC 4760 section 3: ORIGIN and AS_PATH with any NLRI, NEXT_HOP
        // only with NLRI in the NLRI field.
        if !u.nlri.is_empty() || seen.contains(code::MP_REACH_NLRI) {
            let mut required = vec![code::ORIGIN, code::AS_PATH];
            if !u.nlri.is_empty() {
                required.push(code::NEXT_HOP);
            }
            for t in required {
                if !seen.contains(t) {
                    u.malformations.push(Malformation::new(
                        Some(t),
                        Fault::MissingWellKnown,
                        "",
                        vec![t],
                    ));
                }
            }
        }
        u
    }

    /// Walks the path attribute area; returns the type codes that were present.
    fn decode_attributes(&mut self, mut area: &[u8], opts: &DecodeOptions) -> Seen {
        let mut seen = Seen([0; 4]);
        self.attributes.reserve(8);
        while !area.is_empty() {
            // RFC 7606 section 4: a header that does not fit, or a length that overruns the
            // area, ends the walk; the Total Path Attribute Length still locates the NLRI.
            // Flags(1) Type(1) Length(1, or 2 with the extended-length flag) Value.
            let head: PResult<'_, (u8, u8)> = (be_u8, be_u8).parse(area);
            let Ok((after, (fl, t))) = head else {
                self.malformations.push(Malformation::new(
                    None,
                    Fault::AttributeHeaderTruncated,
                    format!("{} octets left", area.len()),
                    area.to_vec(),
                ));
                break;
            };
            let extended = fl & flags::EXTENDED_LENGTH != 0;
            let len: PResult<'_, u16> = if extended {
                be_u16(after)
            } else {
                be_u8.map(u16::from).parse(after)
            };
            let Ok((after, len)) = len else {
                self.malformations.push(Malformation::new(
                    Some(t),
                    Fault::AttributeHeaderTruncated,
                    format!("{} octets left", area.len()),
                    area.to_vec(),
                ));
                break;
            };
            let len = usize::from(len);
            let hdr: usize = if extended { 4 } else { 3 };
            // `raw` is the whole attribute (header and value), kept as malformation data.
            let whole: PResult<'_, (&[u8], &[u8])> =
                consumed(preceded(take(hdr), take(len))).parse(area);
            let Ok((rest, (raw, value))) = whole else {
                self.malformations.push(Malformation::new(
                    Some(t),
                    Fault::AttributeOverrun,
                    format!("length {len}, {} octets left", after.len()),
                    area.to_vec(),
                ));
                break;
            };
            area = rest;

            // RFC 7606 3 (g): MP attributes twice is a reset; anything else keeps the first.
            if seen.insert(t) {
                let fault = if matches!(t, code::MP_REACH_NLRI | code::MP_UNREACH_NLRI) {
                    Fault::DuplicateMp
                } else {
                    Fault::Duplicate
                };
                self.malformations
                    .push(Malformation::new(Some(t), fault, "", vec![]));
                continue;
            }
            if opts.four_octet_as && matches!(t, code::AS4_PATH | code::AS4_AGGREGATOR) {
                // RFC 6793 section 6: a NEW speaker discards these from a NEW speaker,
                // whatever their flags or content.
                self.malformations.push(Malformation::new(
                    Some(t),
                    Fault::UnexpectedAs4Attribute,
                    "",
                    vec![],
                ));
                continue;
            }
            match expected_flags(t) {
                Some(want) if fl & (flags::OPTIONAL | flags::TRANSITIVE) != want => {
                    self.malformations.push(Malformation::new(
                        Some(t),
                        Fault::FlagsConflict,
                        format!("flags {fl:#04x}"),
                        raw.to_vec(),
                    ));
                    continue;
                }
                None if fl & flags::OPTIONAL == 0 => {
                    self.malformations.push(Malformation::new(
                        Some(t),
                        Fault::UnrecognizedWellKnown,
                        "",
                        raw.to_vec(),
                    ));
                    continue;
                }
                _ => {}
            }
            match Attribute::decode(t, value, opts) {
                Ok(value) => self.attributes.push(PathAttribute { flags: fl, value }),
                Err((fault, detail)) => {
                    self.malformations
                        .push(Malformation::new(Some(t), fault, detail, raw.to_vec()))
                }
            }
        }
        seen
    }

    /// Appends the body (no header).
    pub fn encode(&self, out: &mut BytesMut, opts: &DecodeOptions) -> Result<(), EncodeError> {
        let wl_pos = out.len();
        out.put_u16(0);
        self.withdrawn.iter().for_each(|p| p.encode(out));
        let wl = out.len() - wl_pos - 2;
        let al_pos = out.len();
        out.put_u16(0);
        for a in &self.attributes {
            a.encode(out, opts)?;
        }
        let al = out.len() - al_pos - 2;
        let (Ok(wl), Ok(al)) = (u16::try_from(wl), u16::try_from(al)) else {
            return Err(EncodeError::FieldTooLong {
                what: "UPDATE field",
            });
        };
        out[wl_pos..wl_pos + 2].copy_from_slice(&wl.to_be_bytes());
        out[al_pos..al_pos + 2].copy_from_slice(&al.to_be_bytes());
        self.nlri.iter().for_each(|p| p.encode(out));
        Ok(())
    }

    /// RFC 7606 sections 7.5, 7.9, 7.10, for UPDATEs from an external peer: LOCAL_PREF,
    /// ORIGINATOR_ID and CLUSTER_LIST are discarded (also when malformed, which otherwise
    /// would mean treat-as-withdraw). Call before `verdict()`.
    pub fn apply_ebgp_rules(&mut self) {
        const IBGP_ONLY: [u8; 3] = [code::LOCAL_PREF, code::ORIGINATOR_ID, code::CLUSTER_LIST];
        let mut dropped = Vec::new();
        self.attributes.retain(|a| {
            let t = a.type_code();
            let keep = !IBGP_ONLY.contains(&t);
            if !keep {
                dropped.push(t);
            }
            keep
        });
        for m in &mut self.malformations {
            let value_fault = matches!(m.fault, Fault::BadLength | Fault::FlagsConflict);
            if value_fault && m.attr_type.is_some_and(|t| IBGP_ONLY.contains(&t)) {
                m.fault = Fault::IbgpOnlyFromEbgp;
            }
        }
        for t in dropped {
            self.malformations.push(Malformation::new(
                Some(t),
                Fault::IbgpOnlyFromEbgp,
                "from an external peer",
                vec![],
            ));
        }
    }

    /// RFC 4271 section 6.3 (a MAY) with RFC 7606 section 7.2: from an external peer that is
    /// not a route server, the leftmost AS of AS_PATH must be the peer's AS; otherwise the
    /// UPDATE is treated as withdrawn. An AS_PATH that starts with a confederation segment
    /// (a confederation peer) is not checked.
    pub fn check_first_as(&mut self, peer_as: u32) {
        let Some(path) = self.as_path() else { return };
        let first = match path.segments.first() {
            Some(s) if s.kind == SegmentType::AsSequence => s.asns.first().copied(),
            Some(s) if s.kind == SegmentType::AsSet => None,
            Some(_) => return,
            None => None,
        };
        if first != Some(peer_as) {
            let detail = match first {
                Some(a) => format!("leftmost AS {a} is not the peer AS {peer_as}"),
                None => format!("no leftmost AS; peer AS {peer_as}"),
            };
            self.malformations.push(Malformation::new(
                Some(code::AS_PATH),
                Fault::MalformedAsPath,
                detail,
                vec![],
            ));
        }
    }

    /// The RFC 7606 verdict for this UPDATE.
    pub fn verdict(&self) -> Verdict {
        verdict(&self.malformations, self.has_reachable_nlri())
    }

    /// NLRI in the NLRI field or in MP_REACH_NLRI.
    pub fn has_reachable_nlri(&self) -> bool {
        !self.nlri.is_empty() || self.mp_reach().is_some_and(|m| !m.nlri.is_empty())
    }

    pub fn attribute(&self, type_code: u8) -> Option<&Attribute> {
        self.attributes
            .iter()
            .map(|a| &a.value)
            .find(|a| a.type_code() == type_code)
    }

    pub fn mp_reach(&self) -> Option<&MpReach> {
        self.attributes.iter().find_map(|a| match &a.value {
            Attribute::MpReachNlri(m) => Some(m),
            _ => None,
        })
    }

    pub fn mp_unreach(&self) -> Option<&MpUnreach> {
        self.attributes.iter().find_map(|a| match &a.value {
            Attribute::MpUnreachNlri(m) => Some(m),
            _ => None,
        })
    }

    pub fn origin(&self) -> Option<Origin> {
        match self.attribute(code::ORIGIN)? {
            Attribute::Origin(o) => Some(*o),
            _ => None,
        }
    }

    pub fn as_path(&self) -> Option<&AsPath> {
        match self.attribute(code::AS_PATH)? {
            Attribute::AsPath(p) => Some(p),
            _ => None,
        }
    }

    pub fn next_hop(&self) -> Option<Ipv4Addr> {
        match self.attribute(code::NEXT_HOP)? {
            Attribute::NextHop(a) => Some(*a),
            _ => None,
        }
    }

    pub fn med(&self) -> Option<u32> {
        match self.attribute(code::MULTI_EXIT_DISC)? {
            Attribute::MultiExitDisc(v) => Some(*v),
            _ => None,
        }
    }

    pub fn local_pref(&self) -> Option<u32> {
        match self.attribute(code::LOCAL_PREF)? {
            Attribute::LocalPref(v) => Some(*v),
            _ => None,
        }
    }

    pub fn communities(&self) -> &[Community] {
        match self.attribute(code::COMMUNITIES) {
            Some(Attribute::Communities(c)) => c,
            _ => &[],
        }
    }

    pub fn extended_communities(&self) -> &[ExtendedCommunity] {
        match self.attribute(code::EXTENDED_COMMUNITIES) {
            Some(Attribute::ExtendedCommunities(c)) => c,
            _ => &[],
        }
    }

    pub fn large_communities(&self) -> &[LargeCommunity] {
        match self.attribute(code::LARGE_COMMUNITIES) {
            Some(Attribute::LargeCommunities(c)) => c,
            _ => &[],
        }
    }

    pub fn originator_id(&self) -> Option<Ipv4Addr> {
        match self.attribute(code::ORIGINATOR_ID)? {
            Attribute::OriginatorId(a) => Some(*a),
            _ => None,
        }
    }

    pub fn cluster_list(&self) -> &[Ipv4Addr] {
        match self.attribute(code::CLUSTER_LIST) {
            Some(Attribute::ClusterList(c)) => c,
            _ => &[],
        }
    }

    pub fn pmsi_tunnel(&self) -> Option<&PmsiTunnel> {
        match self.attribute(code::PMSI_TUNNEL)? {
            Attribute::PmsiTunnel(p) => Some(p),
            _ => None,
        }
    }

    /// End-of-RIB marker (RFC 4724 section 2): for IPv4 unicast an empty UPDATE, for other
    /// families an UPDATE holding only an empty MP_UNREACH_NLRI.
    pub fn is_end_of_rib(&self) -> Option<AfiSafi> {
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() || !self.malformations.is_empty() {
            return None;
        }
        match self.attributes.as_slice() {
            [] => Some(AfiSafi::IPV4_UNICAST),
            [PathAttribute {
                value: Attribute::MpUnreachNlri(m),
                ..
            }] if m.nlri.is_empty() => Some(m.family),
            _ => None,
        }
    }

    /// An EVPN advertisement: MP_REACH_NLRI first (FRR's order, flags 0x90), then `attrs`.
    pub fn evpn_reach(attrs: Vec<PathAttribute>, next_hop: IpAddr, nlri: Vec<EvpnNlri>) -> Update {
        let mut attributes = Vec::with_capacity(attrs.len() + 1);
        attributes.push(PathAttribute {
            flags: flags::OPTIONAL | flags::EXTENDED_LENGTH,
            value: Attribute::MpReachNlri(MpReach {
                family: AfiSafi::L2VPN_EVPN,
                next_hop: MpNextHop::from_ip(next_hop),
                nlri: MpNlri::Evpn(nlri),
            }),
        });
        attributes.extend(attrs);
        Update {
            attributes,
            ..Default::default()
        }
    }

    /// An EVPN withdrawal: only MP_UNREACH_NLRI (flags 0x90).
    pub fn evpn_unreach(nlri: Vec<EvpnNlri>) -> Update {
        Update {
            attributes: vec![PathAttribute {
                flags: flags::OPTIONAL | flags::EXTENDED_LENGTH,
                value: Attribute::MpUnreachNlri(MpUnreach {
                    family: AfiSafi::L2VPN_EVPN,
                    nlri: MpNlri::Evpn(nlri),
                }),
            }],
            ..Default::default()
        }
    }

    /// The End-of-RIB marker for `family`.
    pub fn end_of_rib(family: AfiSafi) -> Update {
        if family == AfiSafi::IPV4_UNICAST {
            return Update::default();
        }
        Update {
            attributes: vec![PathAttribute::new(Attribute::MpUnreachNlri(MpUnreach {
                family,
                nlri: MpNlri::empty(family),
            }))],
            ..Default::default()
        }
    }
}

/// Builds whole UPDATE messages (header included) carrying `routes` in MP_REACH_NLRI with
/// `attrs` and `next_hop`, each filled with as many NLRI as fit in the session maximum.
/// MP_REACH_NLRI goes first, as RFC 7606 section 5.1 asks of senders (flags 0x90, like FRR);
/// `attrs` are encoded once and copied after the NLRI of each message. Every NLRI is encoded
/// once, straight into its message (the one that does not fit is encoded again into the
/// next message).
pub fn pack_evpn_updates(
    attrs: &[PathAttribute],
    next_hop: IpAddr,
    routes: &[EvpnNlri],
    opts: &DecodeOptions,
) -> Result<Vec<BytesMut>, EncodeError> {
    let mut head = BytesMut::with_capacity(64);
    start_update(&mut head);
    let mp_hdr = head.len();
    head.put_u8(flags::OPTIONAL | flags::EXTENDED_LENGTH);
    head.put_u8(code::MP_REACH_NLRI);
    head.put_u16(0);
    MpReach {
        family: AfiSafi::L2VPN_EVPN,
        next_hop: MpNextHop::from_ip(next_hop),
        nlri: MpNlri::Evpn(Vec::new()),
    }
    .encode(&mut head);
    let mut tail = BytesMut::with_capacity(128);
    for a in attrs {
        a.encode(&mut tail, opts)?;
    }
    pack(&head, mp_hdr, &tail, routes, opts.max_len())
}

/// Like `pack_evpn_updates` for withdrawals: UPDATEs holding only MP_UNREACH_NLRI.
pub fn pack_evpn_withdrawals(
    routes: &[EvpnNlri],
    opts: &DecodeOptions,
) -> Result<Vec<BytesMut>, EncodeError> {
    let mut head = BytesMut::with_capacity(32);
    start_update(&mut head);
    let mp_hdr = head.len();
    head.put_u8(flags::OPTIONAL | flags::EXTENDED_LENGTH);
    head.put_u8(code::MP_UNREACH_NLRI);
    head.put_u16(0);
    MpUnreach {
        family: AfiSafi::L2VPN_EVPN,
        nlri: MpNlri::Evpn(Vec::new()),
    }
    .encode(&mut head);
    pack(&head, mp_hdr, &[], routes, opts.max_len())
}

/// Header (length patched later), empty Withdrawn Routes, Total Path Attribute Length 0.
fn start_update(out: &mut BytesMut) {
    out.put_slice(&MARKER);
    out.put_u16(0);
    out.put_u8(msg_type::UPDATE);
    out.put_u16(0);
    out.put_u16(0);
}

/// Offset of the Total Path Attribute Length in a message built by `start_update`.
const ATTR_LEN_POS: usize = HEADER_LEN + 2;

/// Fills messages: `head` (header, lengths, MP attribute header and fixed fields), then
/// NLRI, then `tail` (the other attributes). `mp_hdr` is the MP attribute's offset.
fn pack(
    head: &[u8],
    mp_hdr: usize,
    tail: &[u8],
    routes: &[EvpnNlri],
    max: usize,
) -> Result<Vec<BytesMut>, EncodeError> {
    if head.len() + tail.len() > max {
        return Err(EncodeError::TooLong {
            len: head.len() + tail.len(),
            max,
        });
    }
    // Room for header, MP fields and NLRI: the tail must still fit after them.
    let limit = max - tail.len();
    let finish = |mut m: BytesMut| -> BytesMut {
        let mp_len = m.len() - mp_hdr - 4;
        m[mp_hdr + 2..mp_hdr + 4].copy_from_slice(&(mp_len as u16).to_be_bytes());
        m.extend_from_slice(tail);
        let len = m.len();
        m[16..18].copy_from_slice(&(len as u16).to_be_bytes());
        let al = len - ATTR_LEN_POS - 2;
        m[ATTR_LEN_POS..ATTR_LEN_POS + 2].copy_from_slice(&(al as u16).to_be_bytes());
        m
    };
    let new_msg = || {
        let mut m = BytesMut::with_capacity(max);
        m.extend_from_slice(head);
        m
    };
    let mut out = Vec::new();
    let mut msg = new_msg();
    for r in routes {
        let before = msg.len();
        r.encode(&mut msg);
        if msg.len() > limit {
            let len = msg.len() + tail.len();
            msg.truncate(before);
            if before == head.len() {
                // Not even one route fits beside the attributes.
                return Err(EncodeError::TooLong { len, max });
            }
            out.push(finish(msg));
            msg = new_msg();
            r.encode(&mut msg);
            if msg.len() > limit {
                return Err(EncodeError::TooLong {
                    len: msg.len() + tail.len(),
                    max,
                });
            }
        }
    }
    if msg.len() > head.len() {
        out.push(finish(msg));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
