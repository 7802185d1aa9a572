//! How `evpnctl decode` shows a message: JSON (the codec's serde form, with EVPN routes also
//! given in FRR's bracket notation) or a readable tree drawn from that same JSON, so the tree
//! shows every field the codec knows without a second hand-kept list of them.

use std::fmt::Write;

use bgp::packet::attribute::type_name;
use bgp::packet::{Attribute, Message, MessageError, MpNlri, Verdict};
use serde_json::{json, Map, Value};

/// Where a message came from in a capture.
#[derive(Debug, Clone)]
pub struct Origin {
    pub frame: u64,
    pub timestamp: f64,
    pub src: String,
    pub dst: String,
}

/// One input message and what the codec made of it.
#[derive(Debug)]
pub struct Decoded {
    /// 1-based position in the input.
    pub index: usize,
    pub origin: Option<Origin>,
    pub bytes: Vec<u8>,
    pub result: Result<Message, MessageError>,
}

impl Decoded {
    /// True when the message is malformed: a header/OPEN error, or an UPDATE whose RFC 7606
    /// verdict is anything but accept.
    pub fn is_malformed(&self) -> bool {
        match &self.result {
            Err(_) => true,
            Ok(Message::Update(u)) => u.verdict() != Verdict::Accept,
            Ok(_) => false,
        }
    }

    fn type_name(&self) -> &'static str {
        match &self.result {
            Ok(Message::Open(_)) => "OPEN",
            Ok(Message::Update(_)) => "UPDATE",
            Ok(Message::Notification(_)) => "NOTIFICATION",
            Ok(Message::Keepalive) => "KEEPALIVE",
            Ok(Message::RouteRefresh(_)) => "ROUTE-REFRESH",
            Err(_) => match self.bytes.get(18) {
                Some(1) => "OPEN",
                Some(2) => "UPDATE",
                Some(3) => "NOTIFICATION",
                Some(4) => "KEEPALIVE",
                Some(5) => "ROUTE-REFRESH",
                _ => "message",
            },
        }
    }

    /// The JSON form: stable keys `index`, `type`, `length`, `hex`, then `frame`, `time`,
    /// `src`, `dst` for captures, then `message` (the codec's serde form) and `verdict`, or
    /// `error` with the NOTIFICATION to send.
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("index".into(), json!(self.index));
        o.insert("type".into(), json!(self.type_name()));
        o.insert("length".into(), json!(self.bytes.len()));
        o.insert("hex".into(), json!(hex::encode(&self.bytes)));
        if let Some(orig) = &self.origin {
            o.insert("frame".into(), json!(orig.frame));
            o.insert("time".into(), json!(orig.timestamp));
            o.insert("src".into(), json!(orig.src));
            o.insert("dst".into(), json!(orig.dst));
        }
        match &self.result {
            Ok(m) => {
                let mut v = serde_json::to_value(m).unwrap_or(Value::Null);
                annotate(m, &mut v);
                o.insert("message".into(), v);
                if let Message::Update(u) = m {
                    o.insert("verdict".into(), verdict_json(&u.verdict()));
                }
            }
            Err(e) => {
                let n = e.notification();
                o.insert(
                    "error".into(),
                    json!({
                        "text": e.to_string(),
                        "notification": serde_json::to_value(&n).unwrap_or(Value::Null),
                        "notification_text": n.to_string(),
                    }),
                );
            }
        }
        Value::Object(o)
    }

    /// One line: position, origin, type, and for UPDATEs what they announce or withdraw.
    pub fn to_brief(&self) -> String {
        let mut s = format!("#{}", self.index);
        if let Some(o) = &self.origin {
            let _ = write!(s, " f{} {} -> {}", o.frame, o.src, o.dst);
        }
        let _ = write!(s, " {} len {}", self.type_name(), self.bytes.len());
        match &self.result {
            Ok(Message::Update(u)) => {
                if let Some(family) = u.is_end_of_rib() {
                    let _ = write!(s, " End-of-RIB {family}");
                }
                for pa in &u.attributes {
                    match &pa.value {
                        Attribute::MpReachNlri(r) => {
                            let _ = write!(s, " nh {}", next_hop_text(&r.next_hop));
                            brief_nlri(&r.nlri, "+", &mut s);
                        }
                        Attribute::MpUnreachNlri(r) => brief_nlri(&r.nlri, "-", &mut s),
                        Attribute::ExtendedCommunities(list) => {
                            for c in list {
                                let _ = write!(s, " {c}");
                            }
                        }
                        _ => {}
                    }
                }
                for p in &u.withdrawn {
                    let _ = write!(s, " -{p}");
                }
                for p in &u.nlri {
                    let _ = write!(s, " +{p}");
                }
                if u.verdict() != Verdict::Accept {
                    let _ = write!(s, " MALFORMED: {}", verdict_text(&u.verdict()));
                }
            }
            Ok(Message::Notification(n)) => {
                let _ = write!(s, " {n}");
            }
            Ok(Message::Open(o)) => {
                let _ = write!(s, " AS {} id {} hold {}", o.asn(), o.bgp_id, o.hold_time);
            }
            Ok(Message::RouteRefresh(r)) => {
                let _ = write!(s, " {} {:?}", r.family, r.subtype);
            }
            Ok(_) => {}
            Err(e) => {
                let _ = write!(s, " ERROR {e}: send NOTIFICATION {}", e.notification());
            }
        }
        s
    }

    /// The tree form.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "#{} {}, {} octets",
            self.index,
            self.type_name(),
            self.bytes.len()
        );
        if let Some(o) = &self.origin {
            let _ = write!(s, "  frame {}  {} -> {}", o.frame, o.src, o.dst);
        }
        s.push('\n');
        match &self.result {
            Ok(m) => {
                let mut v = serde_json::to_value(m).unwrap_or(Value::Null);
                annotate(m, &mut v);
                if let Some(body) = v.get("body") {
                    if let Message::Update(_) = m {
                        update_tree(body, 1, &mut s);
                    } else {
                        tree(body, 1, &mut s);
                    }
                }
                if let Message::Notification(n) = m {
                    let _ = writeln!(s, "  meaning: {n}");
                }
                if let Message::Update(u) = m {
                    if let Some(family) = u.is_end_of_rib() {
                        let _ = writeln!(s, "  end-of-rib: {family}");
                    }
                    let _ = writeln!(s, "  verdict: {}", verdict_text(&u.verdict()));
                }
            }
            Err(e) => {
                let _ = writeln!(s, "  error: {e}");
                let _ = writeln!(
                    s,
                    "  verdict: session reset, send NOTIFICATION {}",
                    e.notification()
                );
                let n = e.notification();
                let _ = writeln!(
                    s,
                    "  notification: code {} subcode {} data {}",
                    n.code,
                    n.subcode,
                    if n.data.is_empty() {
                        "(none)".to_string()
                    } else {
                        hex::encode(&n.data)
                    }
                );
            }
        }
        s
    }
}

fn brief_nlri(nlri: &MpNlri, sign: &str, s: &mut String) {
    match nlri {
        MpNlri::Evpn(routes) => {
            for r in routes {
                let rd = r.rd().map(|rd| rd.to_string()).unwrap_or_default();
                let _ = write!(s, " {sign}{r} rd {rd}");
            }
        }
        MpNlri::Ipv4(p) => p.iter().for_each(|p| {
            let _ = write!(s, " {sign}{p}");
        }),
        MpNlri::Ipv6(p) => p.iter().for_each(|p| {
            let _ = write!(s, " {sign}{p}");
        }),
        MpNlri::Raw(b) => {
            let _ = write!(s, " {sign}raw {} octets", b.len());
        }
    }
}

fn next_hop_text(nh: &bgp::packet::MpNextHop) -> String {
    match nh {
        bgp::packet::MpNextHop::Ipv4(a) => a.to_string(),
        bgp::packet::MpNextHop::Ipv6(a) => a.to_string(),
        bgp::packet::MpNextHop::Ipv6LinkLocal { global, link_local } => {
            format!("{global} ({link_local})")
        }
        bgp::packet::MpNextHop::Raw(b) => hex::encode(b),
    }
}

fn verdict_json(v: &Verdict) -> Value {
    let mut o = serde_json::to_value(v).unwrap_or(Value::Null);
    if let (Verdict::SessionReset(n), Value::Object(map)) = (v, &mut o) {
        map.insert("text".into(), json!(n.to_string()));
    }
    o
}

fn verdict_text(v: &Verdict) -> String {
    match v {
        Verdict::Accept => "accept".into(),
        Verdict::AttributeDiscard { discarded } => {
            let names: Vec<String> = discarded.iter().map(|&t| attr_name(t)).collect();
            format!(
                "attribute discard ({}), routes stand (RFC 7606)",
                names.join(", ")
            )
        }
        Verdict::TreatAsWithdraw => {
            "treat-as-withdraw: every route in this UPDATE is withdrawn (RFC 7606)".into()
        }
        Verdict::SessionReset(n) => format!(
            "session reset, send NOTIFICATION {n} (code {} subcode {} data {})",
            n.code,
            n.subcode,
            if n.data.is_empty() {
                "(none)".into()
            } else {
                hex::encode(&n.data)
            }
        ),
    }
}

fn attr_name(t: u8) -> String {
    type_name(t)
        .map(str::to_string)
        .unwrap_or_else(|| format!("type {t}"))
}

/// Adds `route` (FRR's bracket notation) in front of each EVPN NLRI, and `text` (FRR's
/// `show bgp` form) to each extended community, so both forms sit side by side.
fn annotate(m: &Message, v: &mut Value) {
    let Message::Update(u) = m else {
        return;
    };
    let Some(attrs) = v
        .pointer_mut("/body/attributes")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for (pa, av) in u.attributes.iter().zip(attrs.iter_mut()) {
        let (nlri, key) = match &pa.value {
            Attribute::MpReachNlri(r) => (&r.nlri, "mp_reach_nlri"),
            Attribute::MpUnreachNlri(r) => (&r.nlri, "mp_unreach_nlri"),
            Attribute::ExtendedCommunities(list) => {
                let texts = av.pointer_mut("/value/extended_communities");
                if let Some(Value::Array(items)) = texts {
                    for (c, item) in list.iter().zip(items.iter_mut()) {
                        prepend(item, "text", json!(c.to_string()));
                    }
                }
                continue;
            }
            _ => continue,
        };
        let MpNlri::Evpn(routes) = nlri else {
            continue;
        };
        let ptr = format!("/value/{key}/nlri/evpn");
        if let Some(Value::Array(items)) = av.pointer_mut(&ptr) {
            for (r, item) in routes.iter().zip(items.iter_mut()) {
                prepend(item, "route", json!(r.to_string()));
            }
        }
    }
}

fn prepend(item: &mut Value, key: &str, val: Value) {
    if let Value::Object(map) = item {
        let mut new = Map::new();
        new.insert(key.into(), val);
        new.append(map);
        *map = new;
    }
}

fn pad(depth: usize) -> String {
    "  ".repeat(depth)
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some("-".into()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        Value::Array(a) if a.is_empty() => Some("(none)".into()),
        Value::Object(o) if o.is_empty() => Some("(none)".into()),
        _ => None,
    }
}

/// A small all-scalar object printed on one line: `afi=l2vpn safi=evpn`.
fn inline(v: &Value) -> Option<String> {
    let o = v.as_object()?;
    let mut parts = Vec::new();
    for (k, x) in o {
        if matches!(x, Value::Array(_) | Value::Object(_)) {
            return None;
        }
        parts.push(format!("{k}={}", scalar(x)?));
    }
    let line = parts.join(" ");
    (line.len() <= 60).then_some(line)
}

/// YAML-like tree of a JSON value.
fn tree(v: &Value, depth: usize, s: &mut String) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                if let Some(t) = scalar(x).or_else(|| inline(x)) {
                    let _ = writeln!(s, "{}{k}: {t}", pad(depth));
                } else {
                    let _ = writeln!(s, "{}{k}:", pad(depth));
                    tree(x, depth + 1, s);
                }
            }
        }
        Value::Array(a) => {
            for x in a {
                // Lead with the operator's notation, then every other field with it.
                let head = ["route", "text"]
                    .into_iter()
                    .find_map(|k| x.get(k).and_then(Value::as_str).map(|h| (k, h)));
                if let Some((k, h)) = head {
                    let mut rest = x.clone();
                    if let Some(o) = rest.as_object_mut() {
                        o.shift_remove(k);
                    }
                    match inline(&rest) {
                        Some(t) => {
                            let _ = writeln!(s, "{}- {h}  ({t})", pad(depth));
                        }
                        None => {
                            let _ = writeln!(s, "{}- {h}", pad(depth));
                            tree(&rest, depth + 2, s);
                        }
                    }
                    continue;
                }
                if let Some(t) = scalar(x).or_else(|| inline(x)) {
                    let _ = writeln!(s, "{}- {t}", pad(depth));
                    continue;
                }
                match x.as_object() {
                    Some(o) if o.len() == 1 => {
                        let (k, inner) = o.iter().next().expect("one entry");
                        if let Some(t) = scalar(inner).or_else(|| inline(inner)) {
                            let _ = writeln!(s, "{}- {k}: {t}", pad(depth));
                        } else {
                            let _ = writeln!(s, "{}- {k}:", pad(depth));
                            tree(inner, depth + 2, s);
                        }
                    }
                    _ => {
                        let _ = writeln!(s, "{}-", pad(depth));
                        tree(x, depth + 1, s);
                    }
                }
            }
        }
        other => {
            let _ = writeln!(s, "{}{}", pad(depth), scalar(other).unwrap_or_default());
        }
    }
}

/// UPDATE body: attributes get their RFC name and decoded flags as the heading.
fn update_tree(body: &Value, depth: usize, s: &mut String) {
    let Some(o) = body.as_object() else {
        return tree(body, depth, s);
    };
    for (k, x) in o {
        if k != "attributes" {
            if let Some(t) = scalar(x) {
                let _ = writeln!(s, "{}{k}: {t}", pad(depth));
            } else {
                let _ = writeln!(s, "{}{k}:", pad(depth));
                tree(x, depth + 1, s);
            }
            continue;
        }
        let _ = writeln!(s, "{}attributes:", pad(depth));
        for a in x.as_array().into_iter().flatten() {
            let flags = a.get("flags").and_then(Value::as_u64).unwrap_or(0) as u8;
            let (name, inner) = match a.get("value") {
                Some(Value::Object(m)) if m.len() == 1 => {
                    let (k, v) = m
                        .iter()
                        .next()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .unwrap_or_default();
                    (k.to_uppercase(), v)
                }
                Some(Value::String(unit)) => (unit.to_uppercase(), Value::Null),
                Some(other) => ("ATTRIBUTE".into(), other.clone()),
                None => ("ATTRIBUTE".into(), Value::Null),
            };
            let head = format!(
                "{}{name} [flags 0x{flags:02x}: {}]",
                pad(depth + 1),
                flag_words(flags)
            );
            if matches!(inner, Value::Null) {
                let _ = writeln!(s, "{head}");
            } else if let Some(t) = scalar(&inner).or_else(|| inline(&inner)) {
                let _ = writeln!(s, "{head}: {t}");
            } else {
                let _ = writeln!(s, "{head}");
                tree(&inner, depth + 2, s);
            }
        }
    }
}

fn flag_words(f: u8) -> String {
    let mut w = vec![if f & 0x80 != 0 {
        "optional"
    } else {
        "well-known"
    }];
    w.push(if f & 0x40 != 0 {
        "transitive"
    } else {
        "non-transitive"
    });
    if f & 0x20 != 0 {
        w.push("partial");
    }
    if f & 0x10 != 0 {
        w.push("extended-length");
    }
    w.join(", ")
}
