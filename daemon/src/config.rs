//! evpnd's configuration: one file (TOML, or YAML by extension) plus `EVPND_…` environment
//! overrides, checked completely on load so that a bad config never starts a half-working
//! daemon. Errors name the key, the file and, where it can be found, the line.
//!
//! ```toml
//! [global]
//! asn = 65000
//! router_id = "10.0.0.1"
//!
//! [[peer]]
//! address = "10.1.1.0"
//! remote_as = "internal"
//!
//! [evpn]
//! advertise_all_vni = true
//!
//! [ipv4_unicast]
//! networks = ["10.0.0.1/32"]
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use bgp::packet::extcomm::RouteTarget;
use bgp::packet::types::RouteDistinguisher;
use ipnet::{IpNet, Ipv4Net};
use serde::{Deserialize, Serialize};

/// AS_TRANS (RFC 6793): never a real AS.
const AS_TRANS: u32 = 23456;
const MAX_VNI: u32 = (1 << 24) - 1;
/// FRR's range for `advertisement-interval`.
const MAX_ADVERTISEMENT_INTERVAL: u16 = 600;

/// A config that failed to load: what, where, and what is allowed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: {message}")]
    Load { file: String, message: String },
    #[error("{file}{}: `{key}`: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        file: String,
        line: Option<usize>,
        key: String,
        message: String,
    },
}

/// `remote_as`: a number, or `internal` / `external` as in FRR's `remote-as`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RemoteAs {
    Asn(u32),
    Kind(PeerKind),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerKind {
    Internal,
    External,
}

/// What to do on eBGP with the EVPN next hop (the VTEP).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NextHopMode {
    /// Keep the originating VTEP (what leaf-spine eBGP fabrics need; FRR's default for EVPN).
    #[default]
    Unchanged,
    /// Set our own address.
    #[serde(rename = "self")]
    SelfAddress,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MaxPrefixAction {
    /// Log once when the limit is crossed.
    #[default]
    Warn,
    /// Send Cease / Maximum Number of Prefixes Reached, and stay down for `restart` seconds.
    Teardown,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaxPrefix {
    pub limit: u32,
    #[serde(default)]
    pub action: MaxPrefixAction,
    /// Seconds before an automatic restart after a teardown; 0 = stay down until cleared.
    #[serde(default)]
    pub restart: u32,
}

/// Settings a peer takes from its group unless it sets them itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerSettings {
    pub remote_as: Option<RemoteAs>,
    pub password: Option<String>,
    /// GTSM (RFC 5082): accept only packets at most this many hops away.
    pub ttl_security: Option<u8>,
    /// eBGP multihop TTL.
    pub ebgp_multihop: Option<u8>,
    pub hold_time: Option<u16>,
    pub keepalive: Option<u16>,
    pub connect_retry: Option<u16>,
    pub route_reflector_client: Option<bool>,
    pub next_hop: Option<NextHopMode>,
    pub max_prefix: Option<MaxPrefix>,
    /// Only accept connections (never connect out).
    pub passive: Option<bool>,
    pub description: Option<String>,
    /// Send a graceful-restart capability and keep the peer's routes as stale across its
    /// restarts.
    pub graceful_restart: Option<bool>,
    /// TCP port to connect to (179; other values let tests run several speakers on
    /// loopback).
    pub port: Option<u16>,
    /// Also negotiate IPv4 unicast (underlay loopbacks); L2VPN EVPN is always on.
    pub ipv4_unicast: Option<bool>,
    /// Minimum seconds between runs of advertisements to the peer (RFC 4271 9.2.1.1,
    /// FRR's `advertisement-interval`), 0..=600; churn within it is sent once, as its
    /// latest state. Withdrawals are never held. Default 0 for iBGP and eBGP, as current
    /// FRR (bgpd.h BGP_DEFAULT_{E,I}BGP_ROUTEADV, in every profile); Quagga, older FRR
    /// and Cisco use 30 s eBGP / 5 s iBGP. A reload changes it without a session reset.
    pub advertisement_interval: Option<u16>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerFile {
    pub address: IpAddr,
    pub peer_group: Option<String>,
    #[serde(flatten)]
    pub settings: PeerSettings,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenRangeFile {
    /// Accept any peer from this prefix (FRR: `bgp listen range`).
    pub prefix: IpNet,
    pub peer_group: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Global {
    pub asn: u32,
    pub router_id: Ipv4Addr,
    /// Addresses to accept BGP connections on; empty = do not listen.
    #[serde(default = "default_listen")]
    pub listen: Vec<SocketAddr>,
    /// Route reflector cluster id; defaults to the router id.
    pub cluster_id: Option<Ipv4Addr>,
    /// Seconds of graceful-restart time we announce; after our own restart (entries of
    /// ours found in the kernel) also the longest the kernel's stale entries are kept
    /// while waiting for the peers' End-of-RIB (`restart.rs`).
    #[serde(default = "default_restart_time")]
    pub restart_time: u16,
}

fn default_listen() -> Vec<SocketAddr> {
    vec![SocketAddr::from(([0, 0, 0, 0], 179))]
}

fn default_restart_time() -> u16 {
    120
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VniOverride {
    pub rd: Option<RouteDistinguisher>,
    #[serde(default)]
    pub import_rt: Vec<RouteTarget>,
    #[serde(default)]
    pub export_rt: Vec<RouteTarget>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DuplicateDetection {
    /// Moves of one MAC within `window` seconds that freeze it.
    #[serde(default = "default_max_moves")]
    pub max_moves: u32,
    #[serde(default = "default_window")]
    pub window: u32,
}

fn default_max_moves() -> u32 {
    5
}

fn default_window() -> u32 {
    180
}

impl Default for DuplicateDetection {
    /// FRR's defaults: 5 moves in 180 s.
    fn default() -> Self {
        Self {
            max_moves: default_max_moves(),
            window: default_window(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evpn {
    /// Advertise every VNI found on the kernel's VXLAN devices (FRR: `advertise-all-vni`).
    #[serde(default)]
    pub advertise_all_vni: bool,
    /// VNIs to advertise when not all.
    #[serde(default)]
    pub vnis: Vec<u32>,
    /// Per-VNI RD / route target overrides, keyed by VNI.
    #[serde(default)]
    pub vni: BTreeMap<String, VniOverride>,
    /// Program remote MAC/IP pairs as neighbour entries so the bridge answers ARP/ND.
    #[serde(default = "yes")]
    pub arp_suppression: bool,
    #[serde(default)]
    pub duplicate_detection: DuplicateDetection,
}

impl Default for Evpn {
    fn default() -> Self {
        Self {
            advertise_all_vni: false,
            vnis: Vec::new(),
            vni: BTreeMap::new(),
            arp_suppression: true,
            duplicate_detection: DuplicateDetection::default(),
        }
    }
}

fn yes() -> bool {
    true
}

/// `[ipv4_unicast]`: what we originate in IPv4 unicast, as FRR's `network` lines under
/// `address-family ipv4 unicast` (peers exchange the family with `ipv4_unicast = true`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ipv4Unicast {
    /// Prefixes announced with origin IGP and ourselves as next hop (the session's own
    /// address): typically the loopback, the VTEP address, as `"10.0.0.1/32"`. Strings,
    /// so that a bad one is reported by evpnd with its line, not by the parser.
    #[serde(default)]
    pub networks: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Logging {
    /// A tracing filter (`info`, `evpnd=debug,bgp=info`); `RUST_LOG` overrides it.
    #[serde(default = "default_level")]
    pub level: String,
    #[serde(default)]
    pub format: LogFormat,
}

fn default_level() -> String {
    "info".into()
}

impl Default for Logging {
    fn default() -> Self {
        Self {
            level: default_level(),
            format: LogFormat::Text,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    /// evpnctl's Unix socket (mode 0600, root only, unless `mode` says otherwise).
    #[serde(default = "default_socket")]
    pub socket: PathBuf,
    #[serde(default = "default_socket_mode")]
    pub mode: u32,
}

fn default_socket() -> PathBuf {
    PathBuf::from("/run/evpnd/evpnd.sock")
}

fn default_socket_mode() -> u32 {
    0o600
}

impl Default for Control {
    fn default() -> Self {
        Self {
            socket: default_socket(),
            mode: default_socket_mode(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShutdownFib {
    /// Leave our kernel entries for a graceful restart; the next start reconciles them.
    #[default]
    Keep,
    Remove,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fib {
    /// Program the kernel (off: a route server / spine that only speaks BGP).
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub on_shutdown: ShutdownFib,
}

impl Default for Fib {
    /// A config without `[fib]` is a leaf's: program the kernel, as with `[fib]` and no
    /// `enabled` key.
    fn default() -> Self {
        Self {
            enabled: true,
            on_shutdown: ShutdownFib::Keep,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    /// Prometheus endpoint, off when absent.
    pub listen: Option<SocketAddr>,
}

/// The file as written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub global: Global,
    #[serde(default)]
    pub peer_group: BTreeMap<String, PeerSettings>,
    #[serde(default)]
    pub peer: Vec<PeerFile>,
    #[serde(default)]
    pub listen_range: Vec<ListenRangeFile>,
    #[serde(default)]
    pub evpn: Evpn,
    #[serde(default)]
    pub ipv4_unicast: Ipv4Unicast,
    #[serde(default)]
    pub logging: Logging,
    #[serde(default)]
    pub control: Control,
    #[serde(default)]
    pub fib: Fib,
    #[serde(default)]
    pub metrics: Metrics,
}

/// A peer with its group's settings folded in and defaults applied (FRR's defaults).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerConfig {
    pub address: IpAddr,
    pub peer_group: Option<String>,
    pub remote_as: RemoteAs,
    pub password: Option<String>,
    pub ttl_security: Option<u8>,
    pub ebgp_multihop: Option<u8>,
    pub hold_time: u16,
    pub keepalive: u16,
    pub connect_retry: u16,
    pub route_reflector_client: bool,
    pub next_hop: NextHopMode,
    pub max_prefix: Option<MaxPrefix>,
    pub passive: bool,
    pub description: Option<String>,
    pub graceful_restart: bool,
    pub port: u16,
    pub ipv4_unicast: bool,
    pub advertisement_interval: u16,
}

/// A validated configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    pub file: ConfigFile,
    /// Configured peers, by address.
    pub peers: BTreeMap<IpAddr, PeerConfig>,
    /// `[ipv4_unicast] networks`, checked (host bits clear, no repeats), in order.
    pub networks: BTreeSet<Ipv4Net>,
}

/// Keys whose `EVPND_…` override is a comma-separated list.
const ENV_LIST_KEYS: [&str; 3] = ["global.listen", "evpn.vnis", "ipv4_unicast.networks"];

impl Config {
    /// Loads `path` (TOML, or YAML for `.yaml`/`.yml`) with `EVPND_SECTION__KEY` environment
    /// overrides (e.g. `EVPND_GLOBAL__ASN=65001`), and validates it.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_with_env(path, std::env::vars())
    }

    /// As `load`, with the environment given (tests).
    pub fn load_with_env(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Load {
            file: file.clone(),
            message: e.to_string(),
        })?;
        let format = match path.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => config::FileFormat::Yaml,
            _ => config::FileFormat::Toml,
        };
        let mut env: config::Map<String, String> = env
            .into_iter()
            // Every top-level key is a section, so an override is EVPND_SECTION__KEY; other
            // EVPND_* variables (EVPND_BIN of the lab runner) are not config.
            .filter(|(k, _)| k.starts_with("EVPND_") && k.contains("__"))
            .collect();
        // The list-valued keys take comma-separated values (EVPND_EVPN__VNIS=100,200). Set
        // as lists here: the config crate's own list parsing turns a lone `300` into a
        // number, not a list of one.
        let mut lists: Vec<(String, Vec<String>)> = Vec::new();
        env.retain(|k, v| {
            let key = k["EVPND_".len()..].to_lowercase().replace("__", ".");
            if ENV_LIST_KEYS.contains(&key.as_str()) {
                let items = v.split(',').map(|s| s.trim().to_string());
                lists.push((key, items.filter(|s| !s.is_empty()).collect()));
                false
            } else {
                true
            }
        });
        let built = config::Config::builder()
            .add_source(config::File::from_str(&text, format))
            .add_source(
                config::Environment::with_prefix("EVPND")
                    .prefix_separator("_")
                    .separator("__")
                    .try_parsing(true)
                    .source(Some(env)),
            );
        let built = lists
            .into_iter()
            .try_fold(built, |b, (key, items)| b.set_override(key, items))
            .and_then(|b| b.build())
            .map_err(|e| ConfigError::Load {
                file: file.clone(),
                message: e.to_string(),
            })?;
        let parsed: ConfigFile = built.try_deserialize().map_err(|e| {
            let message = e.to_string();
            let key = key_of_error(&message);
            ConfigError::Invalid {
                line: key.as_deref().and_then(|k| locate(&text, k)),
                key: key.unwrap_or_else(|| "(file)".into()),
                file: file.clone(),
                message,
            }
        })?;
        validate(parsed).map_err(|e| ConfigError::Invalid {
            line: locate(&text, &e.key).map(|l| match &e.value {
                Some(v) => locate_value(&text, l, v),
                None => l,
            }),
            key: e.key,
            file,
            message: e.message,
        })
    }
}

/// The key a `config` crate error names (`... for key `global.asn` ...`).
fn key_of_error(message: &str) -> Option<String> {
    let rest = message.split("for key `").nth(1)?;
    Some(rest.split('`').next()?.to_string())
}

/// Best-effort line of a dotted key (`peer[1].hold_time`) in TOML or YAML text: the first line
/// assigning the last segment after the section of the first segment.
fn locate(text: &str, key: &str) -> Option<usize> {
    let segs: Vec<String> = key
        .split('.')
        .map(|s| s.split('[').next().unwrap_or(s).to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let (first, last) = (segs.first()?, segs.last()?);
    // Which occurrence of an array-of-tables section (`[[peer]]`) the key is in.
    let nth: usize = key
        .split('[')
        .nth(1)
        .and_then(|s| s.split(']').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let mut in_section = false;
    let mut seen = 0usize;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            let name = t.trim_matches(|c| c == '[' || c == ']').trim();
            let hit = name == first || name.starts_with(&format!("{first}."));
            in_section = hit && {
                let this = seen;
                if t.starts_with("[[") {
                    seen += 1;
                }
                this == nth || !t.starts_with("[[")
            };
            if segs.len() == 1 && hit {
                return Some(i + 1);
            }
            continue;
        }
        let assigns = |k: &str| {
            t.strip_prefix(k)
                .map(|r| r.trim_start().starts_with('=') || r.trim_start().starts_with(':'))
                .unwrap_or(false)
        };
        if (in_section || segs.len() == 1) && assigns(last) {
            return Some(i + 1);
        }
    }
    None
}

/// A failed check: the key, what is wrong, and the offending list item when the key is
/// a list (so the error points at the item's own line).
struct Invalid {
    key: String,
    message: String,
    value: Option<String>,
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        key: key.into(),
        message: message.into(),
        value: None,
    }
}

/// The line (1-based) at or after `from` that holds `"value"` (a list item written over
/// several lines), else `from`.
fn locate_value(text: &str, from: usize, value: &str) -> usize {
    let quoted = [format!("\"{value}\""), format!("'{value}'")];
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find(|(_, l)| quoted.iter().any(|q| l.contains(q.as_str())))
        .map_or(from, |(i, _)| i + 1)
}

/// `[ipv4_unicast] networks`: each a prefix with its length and no host bits set
/// (`10.0.0.1/24` is refused rather than silently announced as 10.0.0.0/24: whoever wrote
/// a host address likely meant `/32`), none twice.
fn check_networks(n: &Ipv4Unicast) -> Result<BTreeSet<Ipv4Net>, Invalid> {
    const KEY: &str = "ipv4_unicast.networks";
    let mut out = BTreeSet::new();
    for s in &n.networks {
        let bad = |message: String| Invalid {
            key: KEY.into(),
            message,
            value: Some(s.clone()),
        };
        let net: Ipv4Net = s.trim().parse().map_err(|_| {
            let hint = if s.trim().parse::<Ipv4Addr>().is_ok() {
                format!(" (a host is \"{}/32\")", s.trim())
            } else {
                String::new()
            };
            bad(format!(
                "\"{s}\" is not an IPv4 prefix ADDRESS/LENGTH{hint}"
            ))
        })?;
        if net.trunc() != net {
            return Err(bad(format!(
                "\"{s}\" has host bits set: the network is {}",
                net.trunc()
            )));
        }
        if !out.insert(net) {
            return Err(bad(format!("{net} is listed twice")));
        }
    }
    Ok(out)
}

fn validate(file: ConfigFile) -> Result<Config, Invalid> {
    let g = &file.global;
    if g.asn == 0 || g.asn == AS_TRANS {
        return Err(invalid(
            "global.asn",
            format!(
                "{} is not a usable AS number (1..4294967295, not 23456 AS_TRANS)",
                g.asn
            ),
        ));
    }
    if g.router_id.is_unspecified() || g.router_id.is_broadcast() {
        return Err(invalid(
            "global.router_id",
            "must be a unicast IPv4 address",
        ));
    }
    for (name, s) in &file.peer_group {
        check_settings(&format!("peer_group.{name}"), s)?;
    }
    let mut peers = BTreeMap::new();
    for (i, p) in file.peer.iter().enumerate() {
        let at = format!("peer[{i}]");
        check_settings(&at, &p.settings)?;
        let group = match &p.peer_group {
            Some(name) => Some(file.peer_group.get(name).ok_or_else(|| {
                invalid(
                    format!("{at}.peer_group"),
                    format!("no [peer_group.{name}] is defined"),
                )
            })?),
            None => None,
        };
        let merged = merge(&p.settings, group);
        let remote_as = merged.remote_as.ok_or_else(|| {
            invalid(
                format!("{at}.remote_as"),
                "missing: a number, \"internal\" or \"external\" (here or in its peer_group)",
            )
        })?;
        let peer = finish(p.address, p.peer_group.clone(), remote_as, &merged);
        if peers.insert(p.address, peer).is_some() {
            return Err(invalid(
                format!("{at}.address"),
                format!("{} is configured twice", p.address),
            ));
        }
    }
    for (i, r) in file.listen_range.iter().enumerate() {
        let at = format!("listen_range[{i}]");
        let group = file.peer_group.get(&r.peer_group).ok_or_else(|| {
            invalid(
                format!("{at}.peer_group"),
                format!("no [peer_group.{}] is defined", r.peer_group),
            )
        })?;
        if group.remote_as.is_none() {
            return Err(invalid(
                format!("peer_group.{}.remote_as", r.peer_group),
                "a peer group used by a listen range needs remote_as",
            ));
        }
    }
    let e = &file.evpn;
    if e.advertise_all_vni && !e.vnis.is_empty() {
        return Err(invalid(
            "evpn.vnis",
            "give either advertise_all_vni = true or a list of vnis, not both",
        ));
    }
    let mut seen = BTreeSet::new();
    for &v in &e.vnis {
        check_vni("evpn.vnis", v)?;
        if !seen.insert(v) {
            return Err(invalid("evpn.vnis", format!("VNI {v} is listed twice")));
        }
    }
    for key in e.vni.keys() {
        let v: u32 = key.parse().map_err(|_| {
            invalid(
                format!("evpn.vni.{key}"),
                "the table name must be a VNI number",
            )
        })?;
        check_vni(&format!("evpn.vni.{key}"), v)?;
    }
    let d = &e.duplicate_detection;
    if d.max_moves < 2 || d.window == 0 {
        return Err(invalid(
            "evpn.duplicate_detection",
            "max_moves must be at least 2 and window at least 1 second",
        ));
    }
    if file.logging.level.trim().is_empty() {
        return Err(invalid("logging.level", "empty filter (try \"info\")"));
    }
    let networks = check_networks(&file.ipv4_unicast)?;
    Ok(Config {
        file,
        peers,
        networks,
    })
}

fn check_vni(key: &str, v: u32) -> Result<(), Invalid> {
    if v == 0 || v > MAX_VNI {
        return Err(invalid(key, format!("VNI {v} is out of range 1..16777215")));
    }
    Ok(())
}

fn check_settings(at: &str, s: &PeerSettings) -> Result<(), Invalid> {
    if let Some(RemoteAs::Asn(a)) = s.remote_as {
        if a == 0 || a == AS_TRANS {
            return Err(invalid(
                format!("{at}.remote_as"),
                format!("{a} is not a usable AS"),
            ));
        }
    }
    if let Some(h) = s.hold_time {
        if h == 1 || h == 2 {
            return Err(invalid(
                format!("{at}.hold_time"),
                "must be 0 (no keepalives) or at least 3 seconds (RFC 4271)",
            ));
        }
    }
    if let (Some(k), Some(h)) = (s.keepalive, s.hold_time) {
        if h != 0 && k >= h {
            return Err(invalid(
                format!("{at}.keepalive"),
                format!("{k} must be less than hold_time {h}"),
            ));
        }
    }
    if let Some(t) = s.ttl_security {
        if t == 0 || t == 255 {
            return Err(invalid(format!("{at}.ttl_security"), "hops must be 1..254"));
        }
        if s.ebgp_multihop.is_some() {
            return Err(invalid(
                format!("{at}.ttl_security"),
                "cannot be combined with ebgp_multihop (RFC 5082 fixes the TTL at 255)",
            ));
        }
    }
    if let Some(p) = &s.password {
        if p.is_empty() || p.len() > 80 {
            return Err(invalid(
                format!("{at}.password"),
                "TCP MD5 keys are 1..80 octets (TCP_MD5SIG_MAXKEYLEN)",
            ));
        }
    }
    if s.port == Some(0) {
        return Err(invalid(format!("{at}.port"), "must be 1..65535"));
    }
    if s.advertisement_interval
        .is_some_and(|i| i > MAX_ADVERTISEMENT_INTERVAL)
    {
        return Err(invalid(
            format!("{at}.advertisement_interval"),
            format!("seconds 0..{MAX_ADVERTISEMENT_INTERVAL} (as FRR's advertisement-interval)"),
        ));
    }
    if let Some(m) = &s.max_prefix {
        if m.limit == 0 {
            return Err(invalid(
                format!("{at}.max_prefix.limit"),
                "must be at least 1",
            ));
        }
    }
    Ok(())
}

/// The peer's own settings over its group's.
fn merge(own: &PeerSettings, group: Option<&PeerSettings>) -> PeerSettings {
    let Some(g) = group else {
        return own.clone();
    };
    PeerSettings {
        remote_as: own.remote_as.or(g.remote_as),
        password: own.password.clone().or_else(|| g.password.clone()),
        ttl_security: own.ttl_security.or(g.ttl_security),
        ebgp_multihop: own.ebgp_multihop.or(g.ebgp_multihop),
        hold_time: own.hold_time.or(g.hold_time),
        keepalive: own.keepalive.or(g.keepalive),
        connect_retry: own.connect_retry.or(g.connect_retry),
        route_reflector_client: own.route_reflector_client.or(g.route_reflector_client),
        next_hop: own.next_hop.or(g.next_hop),
        max_prefix: own.max_prefix.clone().or_else(|| g.max_prefix.clone()),
        passive: own.passive.or(g.passive),
        description: own.description.clone().or_else(|| g.description.clone()),
        graceful_restart: own.graceful_restart.or(g.graceful_restart),
        port: own.port.or(g.port),
        ipv4_unicast: own.ipv4_unicast.or(g.ipv4_unicast),
        advertisement_interval: own.advertisement_interval.or(g.advertisement_interval),
    }
}

/// Applies FRR's defaults (hold 180 s, keepalive hold/3, connect retry 120 s... but 5 s
/// retry here: fabrics want fast recovery and the backoff grows on repeated failures).
pub fn finish(
    address: IpAddr,
    peer_group: Option<String>,
    remote_as: RemoteAs,
    s: &PeerSettings,
) -> PeerConfig {
    let hold_time = s.hold_time.unwrap_or(180);
    PeerConfig {
        address,
        peer_group,
        remote_as,
        password: s.password.clone(),
        ttl_security: s.ttl_security,
        ebgp_multihop: s.ebgp_multihop,
        hold_time,
        keepalive: s.keepalive.unwrap_or(hold_time / 3),
        connect_retry: s.connect_retry.unwrap_or(5),
        route_reflector_client: s.route_reflector_client.unwrap_or(false),
        next_hop: s.next_hop.unwrap_or_default(),
        max_prefix: s.max_prefix.clone(),
        passive: s.passive.unwrap_or(false),
        description: s.description.clone(),
        graceful_restart: s.graceful_restart.unwrap_or(true),
        port: s.port.unwrap_or(179),
        ipv4_unicast: s.ipv4_unicast.unwrap_or(false),
        advertisement_interval: s.advertisement_interval.unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        load_env(text, &[])
    }

    fn load_env(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = std::env::temp_dir().join(format!(
            "evpnd-config-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("evpnd.toml");
        std::fs::write(&path, text).unwrap();
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        let r = Config::load_with_env(&path, env);
        let _ = std::fs::remove_dir_all(&dir);
        r
    }

    fn rand_suffix() -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        N.fetch_add(1, Ordering::Relaxed)
    }

    const LEAF: &str = r#"
[global]
asn = 65000
router_id = "10.0.0.1"

[peer_group.spines]
remote_as = "internal"
hold_time = 9
keepalive = 3

[[peer]]
address = "10.1.1.0"
peer_group = "spines"

[[peer]]
address = "10.1.2.0"
peer_group = "spines"
hold_time = 30

[evpn]
advertise_all_vni = true
"#;

    #[test]
    fn leaf_loads_with_group_settings_and_defaults() {
        let c = load(LEAF).unwrap();
        // No [fib] section: a leaf programs the kernel, as with an empty [fib].
        assert!(c.file.fib.enabled);
        assert_eq!(
            c.file.fib,
            load(&format!("{LEAF}\n[fib]\n")).unwrap().file.fib
        );
        let p1 = &c.peers[&"10.1.1.0".parse::<IpAddr>().unwrap()];
        assert_eq!(p1.remote_as, RemoteAs::Kind(PeerKind::Internal));
        assert_eq!((p1.hold_time, p1.keepalive), (9, 3));
        let p2 = &c.peers[&"10.1.2.0".parse::<IpAddr>().unwrap()];
        assert_eq!((p2.hold_time, p2.keepalive), (30, 3));
        assert!(c.file.evpn.arp_suppression);
        assert_eq!(
            c.file.evpn.duplicate_detection,
            DuplicateDetection::default()
        );
        assert_eq!(c.file.global.listen, default_listen());
        assert_eq!(p1.port, 179);
        let e = err(&LEAF.replace("hold_time = 30", "port = 0"));
        assert!(e.contains("peer[1].port"), "{e}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let c = load_env(LEAF, &[("EVPND_GLOBAL__ASN", "65001"), ("OTHER", "x")]).unwrap();
        assert_eq!(c.file.global.asn, 65001);
        // List-valued keys: comma-separated.
        let c = load_env(
            LEAF,
            &[
                ("EVPND_EVPN__ADVERTISE_ALL_VNI", "false"),
                ("EVPND_EVPN__VNIS", "100,200"),
                ("EVPND_GLOBAL__LISTEN", "127.0.0.1:179,[::1]:179"),
                ("EVPND_IPV4_UNICAST__NETWORKS", "10.0.0.1/32,10.9.0.0/16"),
                ("EVPND_LOGGING__LEVEL", "debug"),
            ],
        )
        .unwrap();
        assert_eq!(c.file.evpn.vnis, vec![100, 200]);
        assert_eq!(
            c.file.global.listen,
            vec![
                "127.0.0.1:179".parse::<SocketAddr>().unwrap(),
                "[::1]:179".parse().unwrap()
            ]
        );
        assert_eq!(c.networks.len(), 2);
        assert_eq!(c.file.logging.level, "debug");
        // One element is a list of one.
        let c = load_env(
            LEAF,
            &[
                ("EVPND_EVPN__ADVERTISE_ALL_VNI", "false"),
                ("EVPND_EVPN__VNIS", "300"),
            ],
        )
        .unwrap();
        assert_eq!(c.file.evpn.vnis, vec![300]);
    }

    fn err(text: &str) -> String {
        load(text).expect_err("must be rejected").to_string()
    }

    #[test]
    fn errors_name_key_line_and_what_is_allowed() {
        let e = err("[global]\nasn = 65000\nrouter_id = \"10.0.0.300\"\n");
        assert!(e.contains("router_id"), "{e}");
        assert!(e.contains(":3:"), "line 3: {e}");

        let e = err("[global]\nasn = 23456\nrouter_id = \"10.0.0.1\"\n");
        assert!(
            e.contains("`global.asn`") && e.contains(":2:") && e.contains("AS_TRANS"),
            "{e}"
        );

        let bad_hold = LEAF.replace("hold_time = 30", "hold_time = 2");
        let e = err(&bad_hold);
        assert!(
            e.contains("peer[1].hold_time") && e.contains("at least 3"),
            "{e}"
        );
        let line = bad_hold
            .lines()
            .position(|l| l.contains("hold_time = 2"))
            .unwrap()
            + 1;
        assert!(e.contains(&format!(":{line}:")), "line {line}: {e}");

        let e = err(&LEAF.replace(
            "peer_group = \"spines\"\nhold_time",
            "peer_group = \"nope\"\nhold_time",
        ));
        assert!(e.contains("no [peer_group.nope]"), "{e}");

        let e = err(&LEAF.replace(
            "advertise_all_vni = true",
            "advertise_all_vni = true\nvnis = [100]",
        ));
        assert!(e.contains("evpn.vnis") && e.contains("not both"), "{e}");

        let e = err(&LEAF.replace("advertise_all_vni = true", "vnis = [16777216]"));
        assert!(e.contains("out of range"), "{e}");

        let e = err(&LEAF.replace("keepalive = 3", "keepalive = 9"));
        assert!(e.contains("less than hold_time"), "{e}");
    }

    #[test]
    fn typos_and_missing_keys_are_rejected() {
        let e = err(&LEAF.replace("hold_time = 9", "hold_tme = 9"));
        assert!(e.contains("hold_tme"), "{e}");
        let e = err(
            "[global]\nasn = 65000\nrouter_id = \"10.0.0.1\"\n[[peer]]\naddress = \"10.1.1.0\"\n",
        );
        assert!(e.contains("remote_as") && e.contains("internal"), "{e}");
        let e = err("[global]\nasn = 65000\n");
        assert!(e.contains("router_id"), "{e}");
        let e = err("[global\nasn = 65000\n");
        assert!(e.contains("line 1") || e.contains(":1"), "{e}");
    }

    #[test]
    fn rd_and_rt_overrides_parse_with_their_types() {
        let c = load(&LEAF.replace(
            "advertise_all_vni = true",
            "advertise_all_vni = true\n[evpn.vni.100]\nrd = \"10.0.0.1:100\"\nimport_rt = [\"65000:100\", \"65001:100\"]\n",
        ))
        .unwrap();
        let o = &c.file.evpn.vni["100"];
        assert_eq!(o.rd.unwrap().to_string(), "10.0.0.1:100");
        assert_eq!(o.import_rt.len(), 2);
        let e = err(&LEAF.replace(
            "advertise_all_vni = true",
            "advertise_all_vni = true\n[evpn.vni.100]\nrd = \"banana\"\n",
        ));
        assert!(e.contains("rd") && e.contains("route distinguisher"), "{e}");
    }

    #[test]
    fn advertisement_interval_default_group_own_and_range() {
        let c = load(LEAF).unwrap();
        assert!(
            c.peers.values().all(|p| p.advertisement_interval == 0),
            "default 0 (FRR datacenter profile)"
        );
        let c = load(&LEAF.replace(
            "keepalive = 3\n",
            "keepalive = 3\nadvertisement_interval = 5\n",
        ))
        .unwrap();
        let by = |a: &str| c.peers[&a.parse::<IpAddr>().unwrap()].advertisement_interval;
        assert_eq!((by("10.1.1.0"), by("10.1.2.0")), (5, 5), "from the group");
        let c = load(&LEAF.replace(
            "hold_time = 30",
            "hold_time = 30\nadvertisement_interval = 600",
        ))
        .unwrap();
        let by = |a: &str| c.peers[&a.parse::<IpAddr>().unwrap()].advertisement_interval;
        assert_eq!((by("10.1.1.0"), by("10.1.2.0")), (0, 600), "own over group");
        let bad = LEAF.replace(
            "hold_time = 30",
            "hold_time = 30\nadvertisement_interval = 601",
        );
        let e = err(&bad);
        let line = bad.lines().position(|l| l.contains("= 601")).unwrap() + 1;
        assert!(
            e.contains("peer[1].advertisement_interval")
                && e.contains("0..600")
                && e.contains(&format!(":{line}:")),
            "{e}"
        );
        let e = err(&LEAF.replace(
            "keepalive = 3\n",
            "keepalive = 3\nadvertisement_interval = 1000\n",
        ));
        assert!(
            e.contains("peer_group.spines.advertisement_interval"),
            "{e}"
        );
        let e = err(&LEAF.replace(
            "keepalive = 3\n",
            "keepalive = 3\nadvertisement_interval = -1\n",
        ));
        assert!(e.contains("advertisement_interval"), "{e}");
    }
    #[test]
    fn ipv4_unicast_networks_are_checked_with_their_line() {
        let c = load(LEAF).unwrap();
        assert!(c.networks.is_empty(), "no section: nothing originated");
        let with = |nets: &str| format!("{LEAF}\n[ipv4_unicast]\nnetworks = [\n{nets}\n]\n");
        let c = load(&with("  \"10.0.0.1/32\",\n  \"192.0.2.0/24\",")).unwrap();
        let want: Vec<Ipv4Net> = vec![
            "10.0.0.1/32".parse().unwrap(),
            "192.0.2.0/24".parse().unwrap(),
        ];
        assert_eq!(c.networks.iter().copied().collect::<Vec<_>>(), want);
        for (item, says) in [
            (
                "\"10.0.0.1/24\"",
                "host bits set: the network is 10.0.0.0/24",
            ),
            ("\"10.0.0.1\"", "(a host is \"10.0.0.1/32\")"),
            ("\"10.0.0.0/33\"", "not an IPv4 prefix"),
            ("\"2001:db8::/64\"", "not an IPv4 prefix"),
            (
                "\"10.0.0.1/32\", \"10.0.0.1/32\"",
                "10.0.0.1/32 is listed twice",
            ),
        ] {
            let text = with(&format!("  \"10.0.0.9/32\",\n  {item},"));
            let e = err(&text);
            let sec = text.lines().position(|l| l == "[ipv4_unicast]").unwrap();
            let line = sec
                + text
                    .lines()
                    .skip(sec)
                    .position(|l| l.contains(item))
                    .unwrap()
                + 1;
            assert!(
                e.contains("`ipv4_unicast.networks`")
                    && e.contains(says)
                    && e.contains(&format!(":{line}:")),
                "{item}: want {says:?} at line {line}: {e}"
            );
        }
        let e = err(&format!(
            "{LEAF}\n[ipv4_unicast]\nnetwork = [\"10.0.0.1/32\"]\n"
        ));
        assert!(e.contains("network"), "typo rejected: {e}");
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    /// The example configs shipped in etc/ load and mean what their comments say.
    #[test]
    fn shipped_examples_load() {
        let etc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../etc");
        let none = std::iter::empty::<(String, String)>;
        let leaf = Config::load_with_env(&etc.join("leaf.toml"), none()).unwrap();
        assert_eq!(leaf.peers.len(), 2);
        assert!(leaf.file.evpn.advertise_all_vni);
        assert!(leaf
            .peers
            .values()
            .all(|p| p.hold_time == 9 && p.keepalive == 3 && p.ipv4_unicast));
        let lo: Ipv4Net = "10.0.0.1/32".parse().unwrap();
        assert_eq!(leaf.networks.iter().collect::<Vec<_>>(), vec![&lo]);
        assert_eq!(lo.addr(), leaf.file.global.router_id, "the loopback");
        let spine = Config::load_with_env(&etc.join("spine.toml"), none()).unwrap();
        assert_eq!(spine.file.listen_range.len(), 1);
        assert!(!spine.file.fib.enabled);
        assert!(spine.file.peer_group["leaves"].route_reflector_client == Some(true));
        assert_eq!(spine.file.peer_group["leaves"].ipv4_unicast, Some(true));
        assert!(spine.networks.is_empty());
    }
}
