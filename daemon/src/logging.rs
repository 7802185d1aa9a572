//! Logging setup: `tracing` events to stderr, text by default or JSON lines, filtered by
//! the config's `logging.level` unless `RUST_LOG` is set (the operator's override wins).
//!
//! Both the filter and the formatter sit behind `tracing_subscriber::reload` layers, so a
//! SIGHUP applies a new `logging.level` and `logging.format` without a restart. While
//! `RUST_LOG` is set it stays the filter: a reload then only says that the config's
//! level is overridden (once per reload that changes it).

use std::io::IsTerminal;
use std::sync::{Mutex, OnceLock};

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Layer, Registry};

use crate::config::{LogFormat, Logging};

type Filtered = tracing_subscriber::layer::Layered<reload::Layer<EnvFilter, Registry>, Registry>;
type Formatter = Box<dyn Layer<Filtered> + Send + Sync>;

/// What a reload can change, kept once the global subscriber is installed.
struct Handles {
    filter: reload::Handle<EnvFilter, Registry>,
    format: reload::Handle<Formatter, Filtered>,
    /// `RUST_LOG` at start (the environment of a running process does not change).
    env: Option<String>,
    current: Logging,
}

static HANDLES: OnceLock<Mutex<Handles>> = OnceLock::new();

/// What a reload did to logging (for the reload's own log line and tests).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub level: bool,
    pub format: bool,
    /// The level changed in the file but `RUST_LOG` is the filter.
    pub overridden: bool,
}

fn env_filter() -> Option<String> {
    std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
}

fn filter_of(cfg: &Logging, env: Option<&str>) -> Result<EnvFilter, String> {
    match env {
        Some(v) => EnvFilter::try_new(v).map_err(|e| format!("RUST_LOG={v}: {e}")),
        None => EnvFilter::try_new(&cfg.level)
            .map_err(|e| format!("logging.level = {:?}: {e}", cfg.level)),
    }
}

/// A new formatter replaces the old one whole. evpnd opens no spans: were it to, a span
/// opened under the text formatter and still open after a switch to JSON would lack the
/// JSON field cache that tracing-subscriber's JSON formatter expects (it panics), so a
/// format switch would then have to wait for a restart.
fn formatter(format: LogFormat) -> Formatter {
    let l = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => l.boxed(),
        LogFormat::Json => l.json().flatten_event(true).boxed(),
    }
}

/// Installs the global subscriber. Fails if the filter does not parse (the config was
/// validated for emptiness only; a bad directive is reported here, before anything starts).
pub fn init(cfg: &Logging) -> Result<(), String> {
    let env = env_filter();
    let (filter, filter_handle) = reload::Layer::new(filter_of(cfg, env.as_deref())?);
    let (format, format_handle) = reload::Layer::new(formatter(cfg.format));
    tracing_subscriber::registry()
        .with(filter)
        .with(format)
        .try_init()
        .map_err(|e| e.to_string())?;
    let _ = HANDLES.set(Mutex::new(Handles {
        filter: filter_handle,
        format: format_handle,
        env,
        current: cfg.clone(),
    }));
    Ok(())
}

/// Applies a reloaded `[logging]` section (already `check`ed). Without an installed
/// subscriber (library use, tests) there is nothing to change.
pub fn reload(cfg: &Logging) -> Result<Applied, String> {
    let Some(h) = HANDLES.get() else {
        return Ok(Applied::default());
    };
    let mut h = h.lock().map_err(|_| "logging state poisoned".to_string())?;
    let mut done = Applied::default();
    if cfg.level != h.current.level {
        if h.env.is_some() {
            done.overridden = true;
        } else {
            let f = filter_of(cfg, None)?;
            h.filter.reload(f).map_err(|e| e.to_string())?;
            done.level = true;
        }
    }
    if cfg.format != h.current.format {
        h.format
            .reload(formatter(cfg.format))
            .map_err(|e| e.to_string())?;
        done.format = true;
    }
    h.current = cfg.clone();
    Ok(done)
}

/// Checks the configured filter (what `--check` and a reload can report before use).
pub fn check(cfg: &Logging) -> Result<(), String> {
    EnvFilter::try_new(&cfg.level)
        .map(|_| ())
        .map_err(|e| format!("`logging.level` = {:?}: {e}", cfg.level))
}
