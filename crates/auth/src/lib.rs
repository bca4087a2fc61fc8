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
mod breaker;
mod cache;
mod results;

pub use authenticate::{AuthError, AuthRequest, AuthSettings, Authenticator};
pub use results::{authentication_results, authserv_id_of};

pub use palisade_report::{
    AuthReport, AuthResult, DkimSignature, DmarcDomain, DmarcPolicy, DnsStats,
};

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
