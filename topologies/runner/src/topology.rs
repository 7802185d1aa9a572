//! The containerlab topology file (`*.clab.yml`), the subset evpnlab builds.
//!
//! Raw structs follow containerlab's schema (`name`, `prefix`, `topology.{defaults,kinds,
//! nodes,links}`); keys evpnlab has no use for (mgmt, ports, startup-config, ...) are ignored
//! so that the same file keeps working with containerlab. [`Topology::load`] resolves the raw
//! file into a [`Topology`]: bind paths made absolute, node roles decided, links checked.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawFile {
    name: Option<String>,
    prefix: Option<String>,
    topology: Option<RawTopology>,
}

#[derive(Debug, Default, Clone, Deserialize)]
struct RawTopology {
    #[serde(default)]
    defaults: RawNode,
    #[serde(default)]
    kinds: BTreeMap<String, RawNode>,
    #[serde(default)]
    nodes: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    links: Vec<serde_json::Value>,
}

/// A node as written; also the shape of `defaults` and `kinds.<kind>`.
#[derive(Debug, Default, Clone, Deserialize)]
struct RawNode {
    kind: Option<String>,
    image: Option<String>,
    #[serde(default)]
    binds: Vec<String>,
    #[serde(default)]
    exec: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    labels: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
struct RawLink {
    endpoints: Vec<String>,
}

/// What evpnlab runs in a node's namespace, decided by the image name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// zebra + bgpd from the host's FRR install, config from the `/etc/frr/frr.conf` bind.
    Frr,
    /// `evpnd --config <bound config>`.
    Evpnd,
    /// Nothing runs; only the `exec` commands.
    Host,
}

impl Role {
    pub fn from_image(image: &str) -> Role {
        let image = image.to_ascii_lowercase();
        if image.contains("evpnd") {
            Role::Evpnd
        } else if image.contains("frr") {
            Role::Frr
        } else {
            Role::Host
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Frr => "frr",
            Role::Evpnd => "evpnd",
            Role::Host => "host",
        }
    }
}

/// `host:container[:options]` with the host path made absolute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bind {
    pub host: PathBuf,
    pub container: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Node {
    pub name: String,
    pub kind: String,
    pub image: String,
    pub role: Role,
    pub binds: Vec<Bind>,
    pub exec: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

impl Node {
    /// The host file bound to `container_file`, directly or through a bound parent directory.
    pub fn bound_file(&self, container_file: &str) -> Option<PathBuf> {
        self.binds.iter().find_map(|b| {
            let c = b.container.trim_end_matches('/');
            if c == container_file {
                Some(b.host.clone())
            } else {
                container_file
                    .strip_prefix(c)
                    .and_then(|rest| rest.strip_prefix('/'))
                    .map(|rest| b.host.join(rest))
            }
        })
    }

    /// FRR's integrated config (`/etc/frr/frr.conf`).
    pub fn frr_config(&self) -> Option<PathBuf> {
        self.bound_file("/etc/frr/frr.conf")
    }

    /// evpnd's config: `/etc/evpnd/evpnd.{toml,yaml,yml}`, else the one file bound under
    /// `/etc/evpnd/`.
    pub fn evpnd_config(&self) -> Option<PathBuf> {
        for name in ["evpnd.toml", "evpnd.yaml", "evpnd.yml"] {
            if let Some(p) = self.bound_file(&format!("/etc/evpnd/{name}")) {
                if p.is_file() {
                    return Some(p);
                }
            }
        }
        let under: Vec<&Bind> = self
            .binds
            .iter()
            .filter(|b| b.container.starts_with("/etc/evpnd/") && b.host.is_file())
            .collect();
        match under.as_slice() {
            [one] => Some(one.host.clone()),
            _ => None,
        }
    }
}

/// One end of a veth link.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Endpoint {
    pub node: String,
    pub iface: String,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.node, self.iface)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub a: Endpoint,
    pub b: Endpoint,
}

#[derive(Debug, Clone, Serialize)]
pub struct Topology {
    pub name: String,
    /// containerlab's `prefix`: namespaces are `<prefix>-<lab>-<node>` ("clab" by default),
    /// or just `<node>` when the prefix is empty.
    pub prefix: String,
    pub file: PathBuf,
    pub nodes: Vec<Node>,
    pub links: Vec<Link>,
}

impl Topology {
    /// Reads, parses and checks a topology file. `name` overrides the file's `name`
    /// (like `containerlab deploy --name`).
    pub fn load(file: &Path, name: Option<&str>) -> Result<Topology> {
        let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
        let file = file.canonicalize().map_err(|e| Error::io(file, e))?;
        Self::parse(&text, &file, name)
    }

    /// Parses `text` as if read from `file` (bind paths are relative to its directory).
    pub fn parse(text: &str, file: &Path, name: Option<&str>) -> Result<Topology> {
        let err = |message: String| Error::Topology {
            path: file.to_path_buf(),
            message,
        };
        let value = crate::yaml::parse(text, file)?;
        let raw: RawFile = serde_json::from_value(value).map_err(|e| err(e.to_string()))?;
        let name = match name.map(str::to_string).or(raw.name) {
            Some(n) => n,
            None => return Err(err("missing top-level `name`".into())),
        };
        check_name(&name).map_err(|m| err(format!("lab name `{name}`: {m}")))?;
        let topo = raw
            .topology
            .ok_or_else(|| err("missing `topology` section".into()))?;
        let dir = file.parent().unwrap_or(Path::new("/")).to_path_buf();

        let raw_nodes = topo
            .nodes
            .clone()
            .ok_or_else(|| err("missing `topology.nodes`".into()))?;
        let mut nodes = Vec::new();
        for (node_name, v) in raw_nodes {
            check_name(&node_name).map_err(|m| err(format!("node `{node_name}`: {m}")))?;
            let raw: RawNode = serde_json::from_value(if v.is_null() {
                serde_json::Value::Object(Default::default())
            } else {
                v
            })
            .map_err(|e| err(format!("node `{node_name}`: {e}")))?;
            nodes.push(
                resolve_node(&node_name, raw, &topo, &dir)
                    .map_err(|m| err(format!("node `{node_name}`: {m}")))?,
            );
        }

        let names: HashSet<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        let mut seen: HashSet<Endpoint> = HashSet::new();
        let mut links = Vec::new();
        for (i, v) in topo.links.iter().enumerate() {
            let raw: RawLink = serde_json::from_value(v.clone()).map_err(|e| {
                err(format!(
                    "link {}: {e} (evpnlab reads the brief form `endpoints: [\"a:eth1\", \"b:eth1\"]`)",
                    i + 1
                ))
            })?;
            let [a, b] = raw.endpoints.as_slice() else {
                return Err(err(format!("link {}: needs exactly two endpoints", i + 1)));
            };
            let a = parse_endpoint(a, &names).map_err(|m| err(format!("link {}: {m}", i + 1)))?;
            let b = parse_endpoint(b, &names).map_err(|m| err(format!("link {}: {m}", i + 1)))?;
            for ep in [&a, &b] {
                if !seen.insert(ep.clone()) {
                    return Err(err(format!("link {}: endpoint {ep} used twice", i + 1)));
                }
            }
            links.push(Link { a, b });
        }

        Ok(Topology {
            name,
            prefix: raw.prefix.unwrap_or_else(|| "clab".into()),
            file: file.to_path_buf(),
            nodes,
            links,
        })
    }

    /// The namespace of a node, named like containerlab's container.
    pub fn namespace(&self, node: &str) -> String {
        if self.prefix.is_empty() {
            node.to_string()
        } else {
            format!("{}-{}-{}", self.prefix, self.name, node)
        }
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }
}

fn check_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        || name.starts_with('.')
    {
        return Err("only letters, digits, `-`, `_` and `.` are allowed".into());
    }
    Ok(())
}

fn scalar_map(m: &BTreeMap<String, serde_json::Value>) -> BTreeMap<String, String> {
    m.iter()
        .map(|(k, v)| {
            let s = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            (k.clone(), s)
        })
        .collect()
}

/// Applies containerlab's inheritance: node over `kinds.<kind>` over `defaults` for kind and
/// image; binds, exec, env and labels are merged in that order.
fn resolve_node(
    name: &str,
    raw: RawNode,
    topo: &RawTopology,
    dir: &Path,
) -> std::result::Result<Node, String> {
    let kind = raw
        .kind
        .clone()
        .or_else(|| topo.defaults.kind.clone())
        .ok_or("no `kind`")?;
    if kind != "linux" {
        return Err(format!(
            "kind `{kind}` is not supported by evpnlab (only `linux`)"
        ));
    }
    let by_kind = topo.kinds.get(&kind).cloned().unwrap_or_default();
    let layers = [&topo.defaults, &by_kind, &raw];
    let image = raw
        .image
        .clone()
        .or_else(|| by_kind.image.clone())
        .or_else(|| topo.defaults.image.clone())
        .ok_or("no `image`")?;
    let mut binds = Vec::new();
    let mut exec = Vec::new();
    let mut env = BTreeMap::new();
    let mut labels = BTreeMap::new();
    for layer in layers {
        for b in &layer.binds {
            binds.push(parse_bind(b, dir)?);
        }
        exec.extend(layer.exec.iter().cloned());
        env.extend(scalar_map(&layer.env));
        labels.extend(scalar_map(&layer.labels));
    }
    let node = Node {
        name: name.to_string(),
        kind,
        role: Role::from_image(&image),
        image,
        binds,
        exec,
        env,
        labels,
    };
    match node.role {
        Role::Frr => match node.frr_config() {
            Some(p) if p.is_file() => {}
            Some(p) => return Err(format!("FRR config {} does not exist", p.display())),
            None => {
                return Err(
                    "FRR image but no bind for /etc/frr/frr.conf (integrated config)".into(),
                )
            }
        },
        Role::Evpnd => {
            if node.evpnd_config().is_none() {
                return Err(
                    "evpnd image but no existing config file bound under /etc/evpnd/ \
                     (e.g. `evpnd.toml:/etc/evpnd/evpnd.toml`)"
                        .into(),
                );
            }
        }
        Role::Host => {}
    }
    Ok(node)
}

fn parse_bind(s: &str, dir: &Path) -> std::result::Result<Bind, String> {
    let mut parts = s.splitn(3, ':');
    let (Some(host), Some(container)) = (parts.next(), parts.next()) else {
        return Err(format!("bind `{s}` is not `host:container[:options]`"));
    };
    if host.is_empty() || !container.starts_with('/') {
        return Err(format!(
            "bind `{s}`: needs a host path and an absolute container path"
        ));
    }
    let host = Path::new(host);
    let host = if host.is_absolute() {
        host.to_path_buf()
    } else {
        dir.join(host)
    };
    Ok(Bind {
        host,
        container: container.to_string(),
    })
}

fn parse_endpoint(s: &str, nodes: &HashSet<&str>) -> std::result::Result<Endpoint, String> {
    let Some((node, iface)) = s.split_once(':') else {
        return Err(format!("endpoint `{s}` is not `node:interface`"));
    };
    if !nodes.contains(node) {
        return Err(format!(
            "endpoint `{s}`: no node `{node}` (host/bridge/macvlan endpoints are not supported by evpnlab)"
        ));
    }
    if iface.is_empty()
        || iface.len() > 15
        || iface == "lo"
        || !iface
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return Err(format!(
            "endpoint `{s}`: `{iface}` is not a usable interface name (1-15 chars)"
        ));
    }
    Ok(Endpoint {
        node: node.to_string(),
        iface: iface.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
name: t1
topology:
  defaults:
    env: {A: "1"}
  kinds:
    linux:
      image: alpine:3
  nodes:
    h1:
      kind: linux
      exec: ["ip addr add 10.0.0.1/24 dev eth1"]
      env: {B: 2}
    h2:
      kind: linux
      image: quay.io/frrouting/frr:8.4.4
      binds: ["h2/frr.conf:/etc/frr/frr.conf"]
  links:
    - endpoints: ["h1:eth1", "h2:eth1"]
"#;

    fn parse(text: &str) -> Result<Topology> {
        Topology::parse(text, Path::new("/nonexistent/lab.clab.yml"), None)
    }

    #[test]
    fn frr_node_needs_existing_config() {
        let msg = parse(SMALL).unwrap_err().to_string();
        assert!(msg.contains("node `h2`: FRR config"), "{msg}");
        assert!(msg.contains("/nonexistent/h2/frr.conf"), "{msg}");
    }

    #[test]
    fn inherits_kind_image_and_merges_env() {
        let text = SMALL.replace("quay.io/frrouting/frr:8.4.4", "busybox");
        let t = parse(&text).unwrap();
        assert_eq!(t.name, "t1");
        let h1 = t.node("h1").unwrap();
        assert_eq!(h1.image, "alpine:3");
        assert_eq!(h1.role, Role::Host);
        assert_eq!(h1.env.get("A").map(String::as_str), Some("1"));
        assert_eq!(h1.env.get("B").map(String::as_str), Some("2"));
        assert_eq!(t.namespace("h1"), "clab-t1-h1");
        assert_eq!(
            t.node("h2").unwrap().frr_config(),
            Some(PathBuf::from("/nonexistent/h2/frr.conf"))
        );
        assert_eq!(t.links.len(), 1);
        assert_eq!(t.links[0].b.to_string(), "h2:eth1");
    }

    #[test]
    fn name_override_and_prefix() {
        let text = SMALL
            .replace("quay.io/frrouting/frr:8.4.4", "busybox")
            .replace("name: t1", "name: t1\nprefix: \"\"");
        let t = Topology::parse(&text, Path::new("/x/l.clab.yml"), Some("other")).unwrap();
        assert_eq!(t.name, "other");
        assert_eq!(t.namespace("h1"), "h1");
    }

    #[test]
    fn rejects_bad_links() {
        let base = SMALL.replace("quay.io/frrouting/frr:8.4.4", "busybox");
        let cases = [
            (r#"["h1:eth1", "h3:eth1"]"#, "no node `h3`"),
            (r#"["h1:eth1", "h1:eth1"]"#, "used twice"),
            (r#"["h1:eth1"]"#, "exactly two endpoints"),
            (
                r#"["h1:eth1", "h2:averyveryverylongname"]"#,
                "not a usable interface",
            ),
            (r#"["h1eth1", "h2:eth1"]"#, "not `node:interface`"),
        ];
        for (eps, want) in cases {
            let text = base.replace(r#"["h1:eth1", "h2:eth1"]"#, eps);
            let msg = parse(&text).unwrap_err().to_string();
            assert!(msg.contains(want), "{eps}: {msg}");
        }
    }

    #[test]
    fn rejects_other_kinds_and_missing_sections() {
        let text = SMALL.replace(
            "kind: linux\n      image: quay",
            "kind: bridge\n      image: quay",
        );
        assert!(parse(&text)
            .unwrap_err()
            .to_string()
            .contains("kind `bridge`"));
        assert!(parse("name: x\n")
            .unwrap_err()
            .to_string()
            .contains("topology"));
        assert!(parse("topology: {nodes: {}}\n")
            .unwrap_err()
            .to_string()
            .contains("name"));
    }

    #[test]
    fn role_by_image() {
        assert_eq!(Role::from_image("quay.io/frrouting/frr:8.4.4"), Role::Frr);
        assert_eq!(Role::from_image("ghcr.io/x/evpnd:latest"), Role::Evpnd);
        assert_eq!(Role::from_image("alpine:3"), Role::Host);
    }
}
