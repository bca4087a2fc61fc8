//! The campaign key: recipients, senders and client addresses are stored only as keyed
//! hashes (HMAC-SHA-256, so a stolen store cannot be checked against a list of
//! addresses without the key), and the recipients of each copy only sealed
//! (ChaCha20-Poly1305), so that `palisade campaign show` can tell an office whom to warn
//! while the store itself holds no address in clear. A fleet shares one key file.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{bail, Context};
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Keys derived from one secret file.
#[derive(Clone)]
pub struct Keys {
    hash: [u8; 32],
    seal: [u8; 32],
    /// Nonces: 16 random bytes drawn once per process, then a counter (XChaCha's
    /// 192-bit nonces make a collision across the hosts of a fleet negligible, with
    /// no system call per message).
    nonce_prefix: [u8; 16],
    counter: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

fn derive(secret: &[u8], label: &str) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(label.as_bytes());
    mac.finalize().into_bytes().into()
}

impl Keys {
    /// Keys from a secret (64 hex digits).
    pub(crate) fn from_hex(text: &str) -> anyhow::Result<Keys> {
        let secret = hex::decode(text.trim()).context("the campaign key is not hex")?;
        if secret.len() != 32 {
            bail!("the campaign key must be 32 bytes (64 hex digits)");
        }
        let mut nonce_prefix = [0u8; 16];
        getrandom::fill(&mut nonce_prefix).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        Ok(Keys {
            hash: derive(&secret, "palisade campaign hash v1"),
            seal: derive(&secret, "palisade campaign seal v1"),
            nonce_prefix,
            counter: Default::default(),
        })
    }

    /// Reads the key file.
    pub fn load(path: &Path) -> anyhow::Result<Keys> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the campaign key {}", path.display()))?;
        Self::from_hex(&text).with_context(|| path.display().to_string())
    }

    /// Reads the key file, creating it (mode 0600, a fresh random key) when it does not
    /// exist yet.
    pub(crate) fn load_or_create(path: &Path) -> anyhow::Result<Keys> {
        if !path.exists() {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
            // Written whole under a private name, then linked into place: a daemon
            // starting at the same moment reads a whole key or makes its own attempt,
            // never half a file.
            let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
            let written = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .and_then(|mut f| {
                    f.write_all(format!("{}\n", hex::encode(secret)).as_bytes())?;
                    f.sync_all()
                });
            let linked = written.and_then(|_| std::fs::hard_link(&tmp, path));
            let _ = std::fs::remove_file(&tmp);
            match linked {
                Ok(()) => palisade_config::files::give_to_dir_owner(path)?,
                // Another process made it first: read theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot create {}", path.display()))
                }
            }
        }
        let mode = std::fs::metadata(path)
            .map(|m| m.permissions().mode())
            .unwrap_or(0);
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "the campaign key is readable by others: chmod 600");
        }
        Self::load(path)
    }

    /// A keyed hash of `value` in the namespace `kind` (32 hex digits).
    pub fn hash(&self, kind: &str, value: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.hash).expect("HMAC takes any key length");
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// Encrypts and authenticates `plain` (base64 of nonce and ciphertext).
    pub fn seal(&self, plain: &[u8]) -> String {
        let cipher = XChaCha20Poly1305::new(Key::from_slice(&self.seal));
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut nonce = [0u8; 24];
        nonce[..16].copy_from_slice(&self.nonce_prefix);
        nonce[16..].copy_from_slice(&n.to_le_bytes());
        match cipher.encrypt(XNonce::from_slice(&nonce), plain) {
            Ok(ct) => {
                let mut out = nonce.to_vec();
                out.extend_from_slice(&ct);
                base64::engine::general_purpose::STANDARD.encode(out)
            }
            Err(_) => String::new(),
        }
    }

    /// Opens what [`Keys::seal`] made; `None` for another key or altered text.
    pub fn open(&self, sealed: &str) -> Option<Vec<u8>> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .ok()?;
        if bytes.len() < 24 + 16 {
            return None;
        }
        let cipher = XChaCha20Poly1305::new(Key::from_slice(&self.seal));
        cipher
            .decrypt(XNonce::from_slice(&bytes[..24]), &bytes[24..])
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_keyed_and_seals_open_only_with_their_key() {
        let a = Keys::from_hex(&"11".repeat(32)).expect("key");
        let b = Keys::from_hex(&"22".repeat(32)).expect("key");
        assert_eq!(a.hash("rcpt", "x@y"), a.hash("rcpt", "x@y"));
        assert_ne!(a.hash("rcpt", "x@y"), b.hash("rcpt", "x@y"));
        assert_ne!(a.hash("rcpt", "x@y"), a.hash("ip", "x@y"));
        assert_eq!(a.hash("rcpt", "x@y").len(), 32);
        let sealed = a.seal(b"voter@county.example");
        assert!(!sealed.contains("voter"));
        assert_eq!(
            a.open(&sealed).as_deref(),
            Some(&b"voter@county.example"[..])
        );
        assert_eq!(b.open(&sealed), None);
        assert_eq!(a.open("not base64!"), None);
        assert!(Keys::from_hex("abcd").is_err());
    }

    #[test]
    fn a_missing_key_file_is_created_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/campaign.key");
        let k1 = Keys::load_or_create(&path).expect("created");
        let mode = std::fs::metadata(&path)
            .expect("exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let k2 = Keys::load_or_create(&path).expect("read back");
        assert_eq!(k1.hash("r", "a"), k2.hash("r", "a"));
    }
}
