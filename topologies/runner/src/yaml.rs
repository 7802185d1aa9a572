//! YAML -> `serde_json::Value`, so the topology structs can use plain serde derives.
//!
//! yaml-rust2 is the YAML parser the `config` crate already uses (same major line), is
//! maintained, and is pure Rust; it has no serde support of its own, hence this small bridge.

use std::path::Path;

use serde_json::{Map, Number, Value};
use yaml_rust2::{Yaml, YamlLoader};

use crate::error::{Error, Result};

/// Parses the first YAML document of `text`; an empty file is an error.
pub fn parse(text: &str, path: &Path) -> Result<Value> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| Error::Yaml {
        path: path.to_path_buf(),
        line: e.marker().line(),
        col: e.marker().col() + 1,
        message: e.info().to_string(),
    })?;
    let doc = docs.into_iter().next().ok_or_else(|| Error::Topology {
        path: path.to_path_buf(),
        message: "file holds no YAML document".into(),
    })?;
    to_json(doc, path)
}

fn to_json(y: Yaml, path: &Path) -> Result<Value> {
    Ok(match y {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Integer(i) => Value::Number(Number::from(i)),
        // Reals stay numbers when they are finite; otherwise keep the text.
        Yaml::Real(s) => match s.parse::<f64>().ok().and_then(Number::from_f64) {
            Some(n) => Value::Number(n),
            None => Value::String(s),
        },
        Yaml::String(s) => Value::String(s),
        Yaml::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|i| to_json(i, path))
                .collect::<Result<_>>()?,
        ),
        Yaml::Hash(h) => {
            let mut m = Map::new();
            for (k, v) in h {
                let key = match k {
                    Yaml::String(s) | Yaml::Real(s) => s,
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    Yaml::Null => "null".into(),
                    other => {
                        return Err(Error::Topology {
                            path: path.to_path_buf(),
                            message: format!("unsupported mapping key {other:?}"),
                        })
                    }
                };
                m.insert(key, to_json(v, path)?);
            }
            Value::Object(m)
        }
        Yaml::Alias(_) | Yaml::BadValue => {
            return Err(Error::Topology {
                path: path.to_path_buf(),
                message: "unsupported YAML value (alias or bad value)".into(),
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_nested_values() {
        let v = parse(
            "a: 1\nb: [x, 2.5, true]\nc: {d: null}\n",
            Path::new("t.yml"),
        )
        .unwrap();
        assert_eq!(v["a"], 1);
        assert_eq!(v["b"][0], "x");
        assert_eq!(v["b"][1], 2.5);
        assert_eq!(v["b"][2], true);
        assert!(v["c"]["d"].is_null());
    }

    #[test]
    fn syntax_error_names_line() {
        let err = parse("a: [1, 2\nb: 3\n", Path::new("t.yml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("t.yml: YAML syntax error at line"), "{msg}");
    }
}
