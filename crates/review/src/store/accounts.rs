//! Accounts, passwords (argon2) and sessions.

use std::time::Duration;

use anyhow::bail;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rusqlite::{params, OptionalExtension};

use super::{now, random_hex, sha256_hex, Role, Session, Store, User};

impl Store {
    /// Adds an account, or replaces the role and password of an existing one.
    pub fn add_user(&self, name: &str, role: Role, password: &str) -> anyhow::Result<()> {
        valid_user_name(name)?;
        if password.chars().count() < 10 {
            bail!("the password must be at least 10 characters long");
        }
        let salt = SaltString::encode_b64(&random_bytes::<16>()?)
            .map_err(|e| anyhow::anyhow!("cannot make a salt: {e}"))?;
        let hash = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))?
            .to_string();
        let conn = self.conn();
        conn.execute(
            "INSERT INTO users(name, role, hash, created) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(name) DO UPDATE SET role = excluded.role, hash = excluded.hash",
            params![name, role.as_str(), hash, now()],
        )?;
        // A changed password or role ends the sessions made with the old one.
        conn.execute("DELETE FROM sessions WHERE user = ?1", params![name])?;
        Ok(())
    }

    /// Removes an account and its sessions; false when there was none.
    pub fn remove_user(&self, name: &str) -> anyhow::Result<bool> {
        let conn = self.conn();
        conn.execute("DELETE FROM sessions WHERE user = ?1", params![name])?;
        Ok(conn.execute("DELETE FROM users WHERE name = ?1", params![name])? > 0)
    }

    /// Every account, by name.
    pub fn users(&self) -> anyhow::Result<Vec<User>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT name, role, created FROM users ORDER BY name")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (name, role, created) = row?;
            if let Some(role) = Role::parse(&role) {
                out.push(User {
                    name,
                    role,
                    created,
                });
            }
        }
        Ok(out)
    }

    /// The user's role when `password` is theirs. Slow on purpose (argon2): call it off
    /// the async threads. An unknown name costs as much as a wrong password.
    pub(crate) fn check_password(
        &self,
        name: &str,
        password: &str,
    ) -> anyhow::Result<Option<Role>> {
        let row: Option<(String, String)> = self
            .conn()
            .query_row(
                "SELECT role, hash FROM users WHERE name = ?1",
                params![name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((role, hash)) = row else {
            let _ = dummy_verify(password);
            return Ok(None);
        };
        let parsed =
            PasswordHash::new(&hash).map_err(|e| anyhow::anyhow!("stored hash unusable: {e}"))?;
        if Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
        {
            Ok(Role::parse(&role))
        } else {
            Ok(None)
        }
    }

    // ---- sessions ----

    /// Starts a session; returns its token (for the cookie) and its CSRF token.
    pub(crate) fn create_session(
        &self,
        user: &str,
        ttl: Duration,
    ) -> anyhow::Result<(String, String)> {
        let token = random_hex(32)?;
        let csrf = random_hex(32)?;
        let now = now();
        let conn = self.conn();
        conn.execute("DELETE FROM sessions WHERE expires < ?1", params![now])?;
        conn.execute(
            "INSERT INTO sessions(token_hash, user, csrf, created, expires) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![sha256_hex(token.as_bytes()), user, csrf, now, now + ttl.as_secs() as i64],
        )?;
        Ok((token, csrf))
    }

    /// The live session a token names.
    pub fn session(&self, token: &str) -> anyhow::Result<Option<Session>> {
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let row: Option<(String, String, String)> = self
            .conn()
            .query_row(
                "SELECT s.user, u.role, s.csrf FROM sessions s JOIN users u ON u.name = s.user
                 WHERE s.token_hash = ?1 AND s.expires >= ?2",
                params![sha256_hex(token.as_bytes()), now()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        Ok(row.and_then(|(user, role, csrf)| {
            Role::parse(&role).map(|role| Session { user, role, csrf })
        }))
    }

    /// Ends a session.
    pub(crate) fn end_session(&self, token: &str) -> anyhow::Result<()> {
        self.conn().execute(
            "DELETE FROM sessions WHERE token_hash = ?1",
            params![sha256_hex(token.as_bytes())],
        )?;
        Ok(())
    }
}

fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(b)
}

/// Spends an argon2 verification on nothing, so that an unknown user name takes as long
/// as a wrong password.
fn dummy_verify(password: &str) -> bool {
    static DUMMY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let hash = DUMMY.get_or_init(|| {
        let salt = SaltString::encode_b64(b"palisade-dummy-salt").ok()?;
        Argon2::default()
            .hash_password(b"not a password anyone has", &salt)
            .ok()
            .map(|h| h.to_string())
    });
    hash.as_deref()
        .and_then(|h| PasswordHash::new(h).ok())
        .is_some_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
}

/// Account names: 1 to 64 of letters, digits, `.`, `_`, `-`, `@`.
pub fn valid_user_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b))
    {
        bail!("`{name}` is not a valid user name (1-64 letters, digits, . _ - @)");
    }
    Ok(())
}
