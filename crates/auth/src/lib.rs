//! Sender authentication for Palisade: SPF (MAIL FROM and HELO), DKIM, ARC, DMARC and
//! iprev through mail-auth, against the DNS resolvers in `[dns]`; and the
//! Authentication-Results header (RFC 8601) that reports them.
//!
//! This is the only crate that talks to DNS. A DNS timeout or server failure always ends
//! as `temperror`, never as `fail`: a broken resolver must not make mail look forged.
//!
//! The engine reads [`AuthReport`], which is plain data; [`Authenticator`] fills it.
#![forbid(unsafe_code)]

mod authenticate;
mod cache;
mod results;

pub use authenticate::{AuthError, AuthRequest, AuthSettings, Authenticator};
pub use results::{authentication_results, authserv_id_of};

use serde::Serialize;
use std::time::Duration;

/// Standard base64 with padding (RFC 4648), as DKIM key records and `header.b` use it.
pub fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[((v >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

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

/// DNS work done for one message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DnsStats {
    /// Methods that ended in a temporary DNS failure.
    pub temp_errors: u32,
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
    /// The RFC 5322 From domain.
    pub from_domain: String,
    /// Reverse DNS of the client.
    pub iprev: AuthResult,
    /// DNS work.
    pub dns: DnsStats,
}
