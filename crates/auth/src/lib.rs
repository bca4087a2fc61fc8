//! Sender authentication for Palisade: SPF (MAIL FROM and HELO), DKIM, ARC, DMARC and
//! iprev through mail-auth, against the DNS resolvers in `[dns]`; and the
//! Authentication-Results header (RFC 8601) that reports them.
//!
//! This is the only crate that talks to DNS. A DNS timeout or server failure always ends
//! as `temperror`, never as `fail`: a broken resolver must not make mail look forged.
//!
//! The engine reads [`AuthReport`], which is plain data; [`Authenticator`] fills it.
//!
//! Depends on `palisade-report` only of Palisade's crates; never on the engine, the
//! configuration or the server, which hand it plain settings.
#![forbid(unsafe_code)]

mod authenticate;
mod breaker;
mod cache;
mod results;

pub use authenticate::{AuthError, AuthRequest, AuthSettings, Authenticator};
pub use results::{authentication_results, authserv_id_of};

pub use palisade_report::{
    AuthReport, AuthResult, DkimSignature, DmarcDomain, DmarcPolicy, DnsStats,
};
