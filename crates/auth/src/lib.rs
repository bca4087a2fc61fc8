//! Sender authentication for Palisade.
//!
//! This crate will check SPF, DKIM, DMARC and ARC with mail-auth and render
//! Authentication-Results. For now it holds the report types the engine and the daemon
//! share, so that the scan seam already carries them.
#![forbid(unsafe_code)]

use serde::Serialize;

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
    /// SPF: no statement.
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

/// What authentication found out about one message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AuthReport {
    /// SPF for the MAIL FROM identity (or HELO for the null sender).
    pub spf: AuthResult,
    /// The best DKIM result among the signatures.
    pub dkim: AuthResult,
    /// DMARC for the From domain.
    pub dmarc: AuthResult,
    /// ARC chain validation.
    pub arc: AuthResult,
}
