//! What authentication found out about one message, as plain data.
//!
//! `palisade-auth` fills an [`AuthReport`]; `palisade-engine` reads it. The types live in
//! this small crate of their own so the engine, which must stay pure (no async runtime, no
//! resolver), never depends on the crate that talks to DNS. [`escape`] is here because
//! every part that prints text a sender controls (a Subject, an address, a quoted phrase)
//! to a terminal or a log needs it, and this crate is below them all. It depends on no
//! other Palisade crate.
#![forbid(unsafe_code)]

pub mod escape;

use serde::Serialize;
use std::time::Duration;

/// The outcome of one authentication method, as RFC 8601 names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthResult {
    /// Not checked, or nothing to check.
    #[default]
    None,
    /// Verified.
    Pass,
    /// Verified as not authorised.
    Fail,
    /// SPF: probably not authorised.
    SoftFail,
    /// SPF: no statement; DKIM: a signature that could not be read.
    Neutral,
    /// Checked, but a DNS or other transient failure stopped it; never a failure.
    TempError,
    /// The published records are broken.
    PermError,
}

impl AuthResult {
    /// The RFC 8601 keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthResult::None => "none",
            AuthResult::Pass => "pass",
            AuthResult::Fail => "fail",
            AuthResult::SoftFail => "softfail",
            AuthResult::Neutral => "neutral",
            AuthResult::TempError => "temperror",
            AuthResult::PermError => "permerror",
        }
    }
}

/// A DMARC policy as published (the one that applies to the From domain).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DmarcPolicy {
    /// `p=none`: monitor only.
    None,
    /// `p=quarantine`.
    Quarantine,
    /// `p=reject`.
    Reject,
}

impl DmarcPolicy {
    /// The tag value.
    pub fn as_str(self) -> &'static str {
        match self {
            DmarcPolicy::None => "none",
            DmarcPolicy::Quarantine => "quarantine",
            DmarcPolicy::Reject => "reject",
        }
    }
}

/// One DKIM signature and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DkimSignature {
    /// Verification result.
    pub result: AuthResult,
    /// The signing domain (`d=`).
    pub domain: String,
    /// The selector (`s=`).
    pub selector: String,
    /// The first 8 characters of the signature (`header.b`), to tell signatures apart.
    pub b: String,
}

/// The domain of an address (`user@Domain.Example.` → `domain.example`), lowercased,
/// without a trailing dot or closing bracket; empty when it has none. Authentication and
/// the engine read From domains with this one function.
pub fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map(|(_, d)| {
            d.trim_end_matches('>')
                .trim()
                .trim_end_matches('.')
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

/// DMARC for one From domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DmarcDomain {
    /// The From domain.
    pub domain: String,
    /// Its DMARC result.
    pub result: AuthResult,
    /// Its published policy, when a record was found.
    pub policy: Option<DmarcPolicy>,
}

/// DNS work done for one message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DnsStats {
    /// Methods that ended in a temporary DNS failure.
    pub temp_errors: u32,
    /// Whether the checks were not tried because the resolver is known to be down (the
    /// circuit breaker is open); every result is then `temperror`.
    pub skipped: bool,
    /// DKIM signatures past the cap (`[auth] max_dkim_signatures`), not verified.
    pub dkim_unchecked: u32,
    /// Wall time of the whole authentication.
    #[serde(skip)]
    pub elapsed: Duration,
}

/// What authentication found out about one message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AuthReport {
    /// Whether authentication ran at all (false offline, or for skipped mail).
    pub checked: bool,
    /// SPF for the MAIL FROM identity (the HELO identity for the null sender).
    pub spf: AuthResult,
    /// The domain SPF was checked for.
    pub spf_domain: String,
    /// SPF for the HELO identity.
    pub spf_helo: AuthResult,
    /// The best DKIM result among the signatures (none without signatures).
    pub dkim: AuthResult,
    /// Every DKIM signature.
    pub dkim_signatures: Vec<DkimSignature>,
    /// ARC chain validation.
    pub arc: AuthResult,
    /// Domains that sealed the ARC chain, oldest first.
    pub arc_sealers: Vec<String>,
    /// Whether the chain is valid and its newest seal is from a trusted sealer.
    pub arc_trusted: bool,
    /// DMARC for the From domain.
    pub dmarc: AuthResult,
    /// The DMARC policy that applies, when a record was found.
    pub dmarc_policy: Option<DmarcPolicy>,
    /// The RFC 5322 From domain DMARC is reported for: with several From domains, the
    /// one with the worst result.
    pub from_domain: String,
    /// Every distinct From domain (at most four are judged by DMARC).
    pub from_domains: Vec<String>,
    /// DMARC for each From domain judged, in From order.
    pub dmarc_domains: Vec<DmarcDomain>,
    /// Reverse DNS of the client.
    pub iprev: AuthResult,
    /// DNS work.
    pub dns: DnsStats,
}
