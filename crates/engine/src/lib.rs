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
//! Depends on `palisade-report` only of Palisade's crates, and must never depend on
//! tokio, a resolver or mail-auth (tests/layout/check fails the build if it does).
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

pub mod auth_symbols;
pub mod campaign;
pub mod extract;
pub mod frames;
pub mod html;
pub mod impersonation;
pub mod lists;
pub mod model;
pub mod normalize;
pub mod rules;
mod scan;
pub mod stance;
mod verdict;
pub mod wallet;

pub use extract::Limits;
pub use impersonation::{FromHeader, Protection};
pub use lists::{Cidr, Lists};
pub use model::Model;
pub use rules::{RuleError, RuleSet};
pub use scan::REPORTED_FACTOR;
pub use verdict::{Action, Symbol, Thresholds, Verdict};

use palisade_report::AuthReport;
use std::collections::HashMap;
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
    /// The From header when the caller parsed it already (authentication reads the same
    /// parse); `None` reads it from `raw`.
    pub from: Option<FromHeader>,
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
            from: None,
        }
    }
}

/// The compiled scoring setup: thresholds, rules, what to protect, score overrides.
#[derive(Debug, Clone)]
pub struct Engine {
    thresholds: Thresholds,
    rules: RuleSet,
    limits: extract::Limits,
    protection: Protection,
    /// The protected and watched domains, taken apart once for lookalike checks.
    targets: Vec<impersonation::Target>,
    lists: Lists,
    /// Stricter (or looser) thresholds for mail to some recipient domains.
    recipient_thresholds: HashMap<String, Thresholds>,
    /// Scores set in `[scores]` for symbols that are not rules.
    scores: HashMap<String, f64>,
    /// The learned reader, shared between clones.
    model: Option<std::sync::Arc<Model>>,
}

/// Name of the symbol that says only part of a message was scanned.
pub(crate) const SYMBOL_TRUNCATED: &str = "MESSAGE_TRUNCATED";

/// What a message scanned only in part scores: what was skipped may hold the threat.
const TRUNCATED_SCORE: f64 = 1.0;

impl Engine {
    /// An engine with these thresholds and rules.
    pub fn new(thresholds: Thresholds, rules: RuleSet) -> Engine {
        Engine {
            thresholds,
            rules,
            limits: extract::Limits::default(),
            protection: Protection::default(),
            targets: Vec::new(),
            lists: Lists::default(),
            recipient_thresholds: HashMap::new(),
            scores: HashMap::new(),
            // The shipped model is compiled in and checked by a test; a build whose file
            // did not load would score with the rules alone rather than not at all.
            model: Model::shipped().ok().map(std::sync::Arc::new),
        }
    }

    /// Replaces the learned model (`None` scores with the rules alone).
    pub fn with_model(mut self, model: Option<Model>) -> Engine {
        self.model = model.map(std::sync::Arc::new);
        self
    }

    /// The learned model in use, if any.
    pub fn model(&self) -> Option<&Model> {
        self.model.as_deref()
    }

    /// Limits on what one message may cost (text read, parts, work).
    pub fn with_limits(mut self, limits: extract::Limits) -> Engine {
        self.limits = limits;
        self
    }

    /// Allow and deny lists.
    pub fn with_lists(mut self, lists: Lists) -> Engine {
        self.lists = lists;
        self
    }

    /// Thresholds for mail to these recipient domains (lowercase). A message to several
    /// domains is judged by the strictest thresholds among them.
    pub fn with_recipient_thresholds(mut self, by_domain: HashMap<String, Thresholds>) -> Engine {
        self.recipient_thresholds = by_domain;
        self
    }

    /// The thresholds that apply to a message with these recipients.
    pub(crate) fn thresholds_for(&self, rcpt_to: &[String]) -> Thresholds {
        let mut t = self.thresholds;
        let mut overridden = false;
        for rcpt in rcpt_to {
            let domain = impersonation::domain_of(rcpt);
            if let Some(o) = self.recipient_thresholds.get(&domain) {
                if !overridden {
                    t = *o;
                    overridden = true;
                } else {
                    t = t.strictest(o);
                }
            }
        }
        t
    }

    /// Protects these domains and names from impersonation.
    pub fn with_protection(mut self, protection: Protection) -> Engine {
        self.targets = impersonation::targets(&protection);
        self.protection = protection;
        self
    }

    /// Overrides symbol scores (`[scores]`): a rule's score, or any other symbol's.
    /// Unknown names are refused, all of them listed, so a typo never goes unnoticed.
    pub fn with_scores(mut self, scores: &HashMap<String, f64>) -> Result<Engine, Vec<String>> {
        let mut unknown = Vec::new();
        for (name, &score) in scores {
            if self.rules.set_score(name, score) {
                continue;
            }
            if Self::built_in_symbols().any(|(n, _)| n == name) {
                self.scores.insert(name.clone(), score);
            } else {
                unknown.push(name.clone());
            }
        }
        if unknown.is_empty() {
            Ok(self)
        } else {
            unknown.sort();
            Err(unknown)
        }
    }

    /// Symbols the engine makes besides rules, with their default scores.
    pub(crate) fn built_in_symbols() -> impl Iterator<Item = (&'static str, f64)> {
        scan::BUILT_IN
            .iter()
            .chain(auth_symbols::DEFAULTS)
            .chain(impersonation::DEFAULTS)
            .chain(lists::DEFAULTS)
            .chain(campaign::DEFAULTS)
            .chain(&[(SYMBOL_TRUNCATED, TRUNCATED_SCORE)])
            .copied()
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
        self.scan_inner(input, false).0
    }

    /// Whether the message reads as a report about a threat (news, a ruling, guidance)
    /// rather than one: then threat symbols, the model's among them, score
    /// [`REPORTED_FACTOR`] of their worth. The model's trainer calibrates with it.
    pub fn reads_as_report(&self, raw: &[u8]) -> bool {
        scan::content(raw, &self.rules, &self.limits, None, None, None).reported
    }

    /// Scans like [`Engine::scan`], and also computes the message's campaign
    /// [`campaign::Fingerprint`] (with the envelope recipients' and the To/Cc display
    /// names' words masked). `None` when the text is too short to tell a template by.
    pub fn scan_with_fingerprint(
        &self,
        input: &Input<'_>,
    ) -> (Verdict, Option<campaign::Fingerprint>) {
        self.scan_inner(input, true)
    }

    /// A verdict with `extra` symbols added (score overrides applied to them), the
    /// total and the action worked out again under the recipients' thresholds. The
    /// daemon adds what it learns across messages (campaigns) this way.
    pub fn rescore(&self, verdict: Verdict, extra: Vec<Symbol>, rcpt_to: &[String]) -> Verdict {
        if extra.is_empty() {
            return verdict;
        }
        let external = verdict.external;
        let mut symbols = verdict.symbols;
        for mut s in extra {
            if let Some(&score) = self.scores.get(&s.name) {
                s.score = score;
            }
            symbols.push(s);
        }
        let mut verdict = Verdict::from_symbols(symbols, &self.thresholds_for(rcpt_to));
        verdict.external = external;
        verdict
    }

    fn scan_inner(
        &self,
        input: &Input<'_>,
        fingerprint: bool,
    ) -> (Verdict, Option<campaign::Fingerprint>) {
        let findings = scan::content(
            input.raw,
            &self.rules,
            &self.limits,
            input.from.as_ref(),
            fingerprint.then_some(input.envelope.rcpt_to.as_slice()),
            self.model.as_deref(),
        );
        let mut symbols = findings.symbols;
        symbols.extend(auth_symbols::symbols(&input.auth));
        symbols.extend(impersonation::symbols(
            &findings.identity,
            &input.auth,
            &self.protection,
            &self.targets,
        ));
        if !self.lists.is_empty() {
            symbols.extend(self.lists.symbols(
                &findings.identity.address,
                &input.envelope.mail_from,
                input.envelope.client_ip,
                &input.auth,
            ));
        }
        if input.truncated {
            symbols.push(Symbol {
                name: SYMBOL_TRUNCATED.into(),
                score: TRUNCATED_SCORE,
                category: "info".into(),
                detail: format!(
                    "scanned the first {} of {} bytes",
                    input.raw.len(),
                    input.size
                ),
            });
        }
        if !self.scores.is_empty() {
            for s in &mut symbols {
                if let Some(&score) = self.scores.get(&s.name) {
                    s.score = score;
                }
            }
        }
        let thresholds = self.thresholds_for(&input.envelope.rcpt_to);
        let mut verdict = Verdict::from_symbols(symbols, &thresholds);
        if !self.protection.domains.is_empty() {
            let domain = impersonation::domain_of(&findings.identity.address);
            verdict.external =
                Some(domain.is_empty() || !impersonation::is_protected(&domain, &self.protection));
        }
        (verdict, findings.fingerprint)
    }
}
