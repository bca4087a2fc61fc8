//! Pure scoring for Palisade: a message, its envelope, what authentication found and the
//! compiled rules go in; a [`Verdict`] comes out. No I/O, no clock, no threads: the same
//! input always gives the same verdict, which is what lets `palisade check` score a file
//! exactly as the daemon scores mail.
//!
//! ```
//! use palisade_engine::{Engine, Input, Thresholds, Action};
//! let engine = Engine::new(Thresholds { tag: 5.0, quarantine: 10.0, reject: 0.0 });
//! let raw = b"Subject: minutes\r\n\r\nThe board meets on Tuesday.\r\n";
//! let verdict = engine.scan(&Input::new(raw));
//! assert_eq!(verdict.action, Action::Accept);
//! ```
#![forbid(unsafe_code)]

mod verdict;

pub use verdict::{Action, Symbol, Thresholds, Verdict};

use palisade_auth::AuthReport;
use std::net::IpAddr;

/// What the SMTP conversation said about a message.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    /// The client's IP address, when it connected over IP.
    pub client_ip: Option<IpAddr>,
    /// The HELO/EHLO name.
    pub helo: String,
    /// MAIL FROM (empty for the null sender).
    pub mail_from: String,
    /// RCPT TO addresses.
    pub rcpt_to: Vec<String>,
}

/// Everything one scan looks at.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    /// The message as RFC 5322 text, as far as it was kept.
    pub raw: &'a [u8],
    /// Whether `raw` is only the start of a larger message.
    pub truncated: bool,
    /// The message's full size in bytes, kept or not.
    pub size: u64,
    /// Envelope facts.
    pub envelope: Envelope,
    /// Authentication results.
    pub auth: AuthReport,
}

impl<'a> Input<'a> {
    /// An input with only the message text: no envelope, no authentication.
    pub fn new(raw: &'a [u8]) -> Input<'a> {
        Input {
            raw,
            truncated: false,
            size: raw.len() as u64,
            envelope: Envelope::default(),
            auth: AuthReport::default(),
        }
    }
}

/// The compiled scoring setup: thresholds now, rules as they are added.
#[derive(Debug, Clone)]
pub struct Engine {
    thresholds: Thresholds,
}

/// Name of the symbol that says only part of a message was scanned.
pub const SYMBOL_TRUNCATED: &str = "MESSAGE_TRUNCATED";

impl Engine {
    /// An engine with these thresholds.
    pub fn new(thresholds: Thresholds) -> Engine {
        Engine { thresholds }
    }

    /// The thresholds in force.
    pub fn thresholds(&self) -> &Thresholds {
        &self.thresholds
    }

    /// Scores one message.
    pub fn scan(&self, input: &Input<'_>) -> Verdict {
        let mut symbols = Vec::new();
        if input.truncated {
            symbols.push(Symbol {
                name: SYMBOL_TRUNCATED.into(),
                score: 0.0,
                category: "info".into(),
                detail: format!(
                    "scanned the first {} of {} bytes",
                    input.raw.len(),
                    input.size
                ),
            });
        }
        Verdict::from_symbols(symbols, &self.thresholds)
    }
}
