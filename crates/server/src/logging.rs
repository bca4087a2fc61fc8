//! Log output: text or JSON lines on stderr, filtered by level.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use palisade_config::{LogFormat, LoggingConfig};

/// Installs the global subscriber. `RUST_LOG` overrides the configured level.
pub fn init(cfg: &LoggingConfig) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .or_else(|| EnvFilter::try_new(&cfg.level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // A second init (tests starting several daemons) is harmless: the first one stays.
    let _ = match cfg.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
