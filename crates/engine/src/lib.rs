//! Pure scoring for Palisade: a message, its envelope, what authentication found and the
//! compiled rules go in; a [`Verdict`] comes out. No I/O, no clock, no threads: the same
//! input always gives the same verdict, which is what lets `palisade check` score a file
//! exactly as the daemon scores mail.
//!
//! The pipeline: [`extract`] (MIME parts, HTML to visible text) -> [`normalize`]
//! (disguises undone, map back to the original kept) -> [`rules`] (one Aho-Corasick
//! automaton for every phrase of every pack) -> scoring (direct or reported, combinations,
//! disguise signals) -> [`Verdict`].
//!
//! ```
//! use palisade_engine::{Engine, Input, Thresholds, Action};
//! let engine = Engine::with_default_rules(Thresholds { tag: 5.0, quarantine: 10.0, reject: 0.0 }).unwrap();
//! let calm = engine.scan(&Input::new(b"Subject: minutes\r\n\r\nThe board meets on Tuesday.\r\n"));
//! assert_eq!(calm.action, Action::Accept);
//! let threat = engine.scan(&Input::new(
//!     b"Subject: hi\r\n\r\nYou will vote for X or we will come after you. We know where you live.\r\n"));
//! assert_eq!(threat.action, Action::Quarantine);
//! ```
#![forbid(unsafe_code)]

pub mod extract;
pub mod html;
pub mod normalize;
pub mod rules;
mod scan;
mod verdict;

pub use rules::{RuleError, RuleSet};
pub use scan::REPORTED_FACTOR;
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

/// The compiled scoring setup: thresholds and rules.
#[derive(Debug, Clone)]
pub struct Engine {
    thresholds: Thresholds,
    rules: RuleSet,
    limits: extract::Limits,
}

/// Name of the symbol that says only part of a message was scanned.
pub const SYMBOL_TRUNCATED: &str = "MESSAGE_TRUNCATED";

impl Engine {
    /// An engine with these thresholds and rules.
    pub fn new(thresholds: Thresholds, rules: RuleSet) -> Engine {
        Engine {
            thresholds,
            rules,
            limits: extract::Limits::default(),
        }
    }

    /// An engine with the default rule packs.
    pub fn with_default_rules(thresholds: Thresholds) -> Result<Engine, RuleError> {
        Ok(Engine::new(thresholds, RuleSet::defaults()?))
    }

    /// The thresholds in force.
    pub fn thresholds(&self) -> &Thresholds {
        &self.thresholds
    }

    /// The rules in force.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Scores one message.
    pub fn scan(&self, input: &Input<'_>) -> Verdict {
        let mut symbols = scan::content(input.raw, &self.rules, &self.limits).symbols;
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
