//! Logging setup: `tracing` events to stderr, text by default or JSON lines, filtered by
//! the config's `logging.level` unless `RUST_LOG` is set (the operator's override wins).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, Logging};

/// Installs the global subscriber. Fails if the filter does not parse (the config was
/// validated for emptiness only; a bad directive is reported here, before anything starts).
pub fn init(cfg: &Logging) -> Result<(), String> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => {
            EnvFilter::try_new(&v).map_err(|e| format!("RUST_LOG={v}: {e}"))?
        }
        _ => EnvFilter::try_new(&cfg.level)
            .map_err(|e| format!("logging.level = {:?}: {e}", cfg.level))?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let res = match cfg.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    res.map_err(|e| e.to_string())
}

/// Checks the configured filter (what `--check` and a reload can report before use).
pub fn check(cfg: &Logging) -> Result<(), String> {
    EnvFilter::try_new(&cfg.level)
        .map(|_| ())
        .map_err(|e| format!("`logging.level` = {:?}: {e}", cfg.level))
}
