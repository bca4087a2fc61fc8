//! DKIM signing and ARC sealing of test messages with mail-auth's own signer, and the
//! DNS records that publish the keys.

use base64::Engine as _;
use std::net::IpAddr;
use std::path::Path;

use anyhow::{anyhow, Context};
use mail_auth::arc::ArcSealer;
use mail_auth::common::crypto::{RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use mail_auth::hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::AuthenticationResults;
use mail_auth::{AuthenticatedMessage, MessageAuthenticator};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer};

use crate::dns::Record;

/// A test key from tests/fixtures/dkim.
pub fn key(name: &str) -> anyhow::Result<RsaKey<Sha256>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/dkim")
        .join(name);
    let der = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der)))
        .map_err(|e| anyhow!("bad test key {name}: {e}"))
}

/// The `selector._domainkey.domain` TXT record for a key.
pub fn dkim_record(domain: &str, selector: &str, key: &RsaKey<Sha256>) -> Record {
    Record::txt(
        &format!("{selector}._domainkey.{domain}"),
        &format!(
            "v=DKIM1; k=rsa; p={}",
            base64::engine::general_purpose::STANDARD.encode(key.public_key())
        ),
    )
}

/// Prepends a DKIM-Signature by `domain`/`selector` to `message` (CRLF text).
pub fn dkim_sign(
    message: &str,
    domain: &str,
    selector: &str,
    key: RsaKey<Sha256>,
) -> anyhow::Result<String> {
    sign(message, domain, selector, key, None)
}

/// Like [`dkim_sign`] with simple/simple canonicalization: every byte of the signed
/// headers counts, spaces after the colon included.
pub fn dkim_sign_simple(
    message: &str,
    domain: &str,
    selector: &str,
    key: RsaKey<Sha256>,
) -> anyhow::Result<String> {
    sign(
        message,
        domain,
        selector,
        key,
        Some(mail_auth::dkim::Canonicalization::Simple),
    )
}

fn sign(
    message: &str,
    domain: &str,
    selector: &str,
    key: RsaKey<Sha256>,
    canonicalization: Option<mail_auth::dkim::Canonicalization>,
) -> anyhow::Result<String> {
    let mut signer = DkimSigner::from_key(key)
        .domain(domain)
        .selector(selector)
        .headers(["From", "To", "Subject", "Date", "Message-ID"]);
    if let Some(c) = canonicalization {
        signer = signer.header_canonicalization(c).body_canonicalization(c);
    }
    let sig = signer
        .sign(message.as_bytes())
        .map_err(|e| anyhow!("cannot sign: {e}"))?;
    Ok(format!("{}{message}", sig.to_header()))
}

/// A mail-auth authenticator on a test DNS server, as a forwarder would run it.
pub fn authenticator(dns: std::net::SocketAddr) -> anyhow::Result<MessageAuthenticator> {
    let mut config = ResolverConfig::default();
    let mut ns = NameServerConfig::udp_and_tcp(dns.ip());
    for c in &mut ns.connections {
        c.port = dns.port();
    }
    config.add_name_server(ns);
    MessageAuthenticator::new(config, ResolverOpts::default()).map_err(|e| anyhow!("{e}"))
}

/// What a mailing list at `domain` does: checks the message it received from
/// `client_ip`, then seals it with ARC (after any change it made, such as a footer).
pub async fn arc_seal(
    received: &str,
    modified: &str,
    domain: &str,
    selector: &str,
    key: RsaKey<Sha256>,
    client_ip: IpAddr,
    dns: std::net::SocketAddr,
) -> anyhow::Result<String> {
    let auth = authenticator(dns)?;
    let original = AuthenticatedMessage::parse(received.as_bytes())
        .ok_or_else(|| anyhow!("cannot parse the received message"))?;
    let dkim = auth.verify_dkim(&original).await;
    let arc = auth.verify_arc(&original).await;
    let results = AuthenticationResults::new(domain)
        .with_dkim_results(&dkim, original.from())
        .with_arc_result(&arc, client_ip);
    let forwarded = AuthenticatedMessage::parse(modified.as_bytes())
        .ok_or_else(|| anyhow!("cannot parse the forwarded message"))?;
    let set = ArcSealer::from_key(key)
        .domain(domain)
        .selector(selector)
        .headers(["From", "To", "Subject", "DKIM-Signature"])
        .seal(&forwarded, &results, &arc)
        .map_err(|e| anyhow!("cannot seal: {e}"))?;
    Ok(format!("{}{modified}", set.to_header()))
}
