//! The queue helper: Postfix lets only root (and the mail owner) read queue files and
//! run postsuper, while the daemon runs as its own unprivileged user. `palisade
//! quarantine helper` runs privileged (its own systemd unit) and offers the daemon a few
//! operations over a unix socket that only the daemon's group can open: list and read
//! what Palisade held, release, copy to some of a message's own recipients, delete, and
//! send a notification. It acts only on messages Palisade held; everything else in the
//! queue stays out of reach.
//!
//! Protocol: one request per connection. The client writes one JSON line
//! `{"request": {"op": …}, "len": N}` and N bytes of payload (a notification's text);
//! the helper answers one JSON line `{"ok": true, "len": N}` and N bytes (or
//! `{"ok": false, "error": "…"}`).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use crate::held::{valid_id, Held};
use crate::postfix::Tools;

/// Largest payload either way (a held message is at most Postfix's message_size_limit,
/// 10 MB by default).
const MAX_PAYLOAD: usize = 64 * 1024 * 1024;
/// Largest request line.
const MAX_LINE: usize = 64 * 1024;
/// Connections served at once.
const MAX_CONNECTIONS: usize = 32;

/// What the daemon may ask.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Everything Palisade holds.
    List,
    /// One held message's facts.
    Find {
        /// Queue id.
        id: String,
    },
    /// Its header block.
    Headers {
        /// Queue id.
        id: String,
    },
    /// The whole message.
    Raw {
        /// Queue id.
        id: String,
    },
    /// Release it.
    Release {
        /// Queue id.
        id: String,
    },
    /// A copy to some of its recipients.
    Copy {
        /// Queue id.
        id: String,
        /// Recipients (each must be one of the message's).
        recipients: Vec<String>,
        /// How the copy is marked as released (none: a byte-for-byte copy).
        #[serde(default)]
        note: Option<crate::message::ReleaseNote>,
    },
    /// Delete it.
    Delete {
        /// Queue id.
        id: String,
    },
    /// Hold a queued message Palisade scanned (a copy of a threatening campaign).
    HoldQueued {
        /// Queue ids, each with when Palisade scanned it.
        copies: Vec<(String, u64)>,
        /// The campaign.
        campaign: String,
    },
    /// Send a notification (the payload) through sendmail.
    Send {
        /// Envelope sender.
        from: String,
        /// Recipients.
        to: Vec<String>,
    },
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    request: Request,
    #[serde(default)]
    len: usize,
}

#[derive(Serialize, Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default)]
    len: usize,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    error: String,
}

fn read_line(r: &mut impl BufRead) -> anyhow::Result<String> {
    let mut line = Vec::new();
    r.take(MAX_LINE as u64 + 1).read_until(b'\n', &mut line)?;
    if line.len() > MAX_LINE {
        bail!("request line too long");
    }
    if line.last() != Some(&b'\n') {
        bail!("connection closed mid-line");
    }
    String::from_utf8(line).context("not UTF-8")
}

fn read_payload(r: &mut impl Read, len: usize) -> anyhow::Result<Vec<u8>> {
    if len > MAX_PAYLOAD {
        bail!("payload of {len} bytes is too large");
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf).context("payload cut short")?;
    Ok(buf)
}

/// Sends one request and returns the answer's payload; the helper's refusal is the error.
pub fn call(socket: &Path, request: &Request, payload: &[u8]) -> anyhow::Result<Vec<u8>> {
    let stream = UnixStream::connect(socket).with_context(|| {
        format!(
            "cannot reach the queue helper at {} (is palisade-queue running?)",
            socket.display()
        )
    })?;
    // Postfix's tools are quick; a stuck helper must not hold a reviewer forever.
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    let mut w = &stream;
    let head = serde_json::to_string(&Envelope {
        request: request.clone(),
        len: payload.len(),
    })?;
    w.write_all(head.as_bytes())?;
    w.write_all(b"\n")?;
    w.write_all(payload)?;
    let mut r = BufReader::new(&stream);
    let answer: Answer = serde_json::from_str(&read_line(&mut r)?)
        .context("the queue helper answered something else than JSON")?;
    if !answer.ok {
        bail!("{}", answer.error);
    }
    read_payload(&mut r, answer.len)
}

/// Everything Palisade holds, through the helper.
pub fn list(socket: &Path) -> anyhow::Result<Vec<Held>> {
    Ok(serde_json::from_slice(&call(socket, &Request::List, &[])?)?)
}

/// One held message, through the helper.
pub fn find(socket: &Path, id: &str) -> anyhow::Result<Held> {
    Ok(serde_json::from_slice(&call(
        socket,
        &Request::Find { id: id.into() },
        &[],
    )?)?)
}

/// What the helper does for one request.
fn answer(tools: &Tools, request: Request, payload: &[u8]) -> anyhow::Result<Vec<u8>> {
    // Every message operation first proves the message is one Palisade held.
    let held = |id: &str| -> anyhow::Result<Held> {
        valid_id(id)?;
        tools.find(id)
    };
    Ok(match request {
        Request::List => serde_json::to_vec(&tools.list()?)?,
        Request::Find { id } => serde_json::to_vec(&held(&id)?)?,
        Request::Headers { id } => {
            held(&id)?;
            tools.headers(&id)?.into_bytes()
        }
        Request::Raw { id } => {
            held(&id)?;
            tools.raw(&id)?
        }
        Request::Release { id } => {
            held(&id)?;
            tools.release(&id)?;
            Vec::new()
        }
        Request::Copy {
            id,
            recipients,
            note,
        } => {
            held(&id)?;
            tools.release_copy(&id, &recipients, note.as_ref())?;
            Vec::new()
        }
        Request::Delete { id } => {
            held(&id)?;
            tools.delete(&id)?;
            Vec::new()
        }
        Request::HoldQueued { copies, campaign } => {
            if campaign.is_empty()
                || campaign.len() > 32
                || !campaign.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
            {
                bail!("not a campaign id");
            }
            if copies.len() > 10_000 {
                bail!("at most 10000 copies per request");
            }
            for (id, _) in &copies {
                valid_id(id)?;
            }
            serde_json::to_vec(&tools.hold_queued(&copies, &campaign)?)?
        }
        Request::Send { from, to } => {
            let bad = |a: &str| {
                a.is_empty()
                    || a.starts_with('-')
                    || a.chars().any(|c| c.is_whitespace() || c.is_control())
            };
            if bad(&from) || to.is_empty() || to.len() > 1000 || to.iter().any(|a| bad(a)) {
                bail!("a notification needs a sender and 1 to 1000 plain addresses");
            }
            tools.sendmail(&from, &to, payload)?;
            Vec::new()
        }
    })
}

fn serve_one(tools: &Tools, stream: UnixStream) -> anyhow::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    let mut r = BufReader::new(&stream);
    let env: Result<Envelope, anyhow::Error> =
        read_line(&mut r).and_then(|l| serde_json::from_str(&l).context("not a request"));
    let result = env.and_then(|env| {
        let payload = read_payload(&mut r, env.len)?;
        let op = serde_json::to_value(&env.request)
            .ok()
            .and_then(|v| v["op"].as_str().map(str::to_string))
            .unwrap_or_default();
        let out = answer(tools, env.request, &payload);
        match &out {
            Ok(_) => tracing::debug!(op, "queue helper request done"),
            Err(e) => tracing::warn!(op, error = %format!("{e:#}"), "queue helper request refused"),
        }
        out
    });
    let mut w = &stream;
    let (answer, payload) = match result {
        Ok(p) => (
            Answer {
                ok: true,
                len: p.len(),
                error: String::new(),
            },
            p,
        ),
        Err(e) => (
            Answer {
                ok: false,
                len: 0,
                error: format!("{e:#}"),
            },
            Vec::new(),
        ),
    };
    w.write_all(serde_json::to_string(&answer)?.as_bytes())?;
    w.write_all(b"\n")?;
    w.write_all(&payload)?;
    Ok(())
}

/// Binds the helper's socket (creating its directory) with this mode and group.
pub fn bind(path: &Path, mode: u32, gid: Option<u32>) -> anyhow::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    palisade_config::socket::bind_unix(path, mode, gid, "--group")
}

/// Serves requests until the process ends; each connection on its own thread, at most
/// [`MAX_CONNECTIONS`] at once (more wait in the kernel's backlog).
pub fn serve(listener: UnixListener, tools: Tools) -> anyhow::Result<()> {
    let tools = Arc::new(tools);
    let busy = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "queue helper accept failed");
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        while busy.load(Ordering::Acquire) >= MAX_CONNECTIONS {
            std::thread::sleep(Duration::from_millis(10));
        }
        busy.fetch_add(1, Ordering::AcqRel);
        let (tools, busy) = (tools.clone(), busy.clone());
        std::thread::spawn(move || {
            if let Err(e) = serve_one(&tools, stream) {
                tracing::warn!(error = %format!("{e:#}"), "queue helper connection failed");
            }
            busy.fetch_sub(1, Ordering::AcqRel);
        });
    }
    Ok(())
}

/// The socket path as configured.
pub(crate) fn socket_path(configured: &str) -> Option<PathBuf> {
    (!configured.is_empty()).then(|| PathBuf::from(configured))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_and_bad_requests_come_back_as_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("q.sock");
        let listener = bind(&sock, 0o600, None).expect("bind");
        // Tools pointing at a Postfix that is not there: every queue operation fails
        // with Postfix's error, carried back to the caller.
        let tools = Tools {
            config: Some(dir.path().join("no-postfix")),
            sendmail: dir.path().join("no-sendmail"),
            holds: None,
        };
        std::thread::spawn(move || serve(listener, tools));
        let e = call(
            &sock,
            &Request::Release {
                id: "../etc".into(),
            },
            &[],
        )
        .expect_err("bad id");
        assert!(e.to_string().contains("not a Postfix queue id"), "{e}");
        let e = call(
            &sock,
            &Request::Send {
                from: "-oQ/tmp".into(),
                to: vec!["a@b".into()],
            },
            b"x",
        )
        .expect_err("option injection");
        assert!(e.to_string().contains("plain addresses"), "{e}");
        let e = call(
            &sock,
            &Request::HoldQueued {
                copies: vec![("ABC123".into(), 1)],
                campaign: "../x".into(),
            },
            &[],
        )
        .expect_err("bad campaign id");
        assert!(e.to_string().contains("not a campaign id"), "{e}");
        let e = call(
            &sock,
            &Request::HoldQueued {
                copies: vec![("-d".into(), 1)],
                campaign: "abc".into(),
            },
            &[],
        )
        .expect_err("bad queue id");
        assert!(e.to_string().contains("not a Postfix queue id"), "{e}");
        let e = call(
            &sock,
            &Request::Send {
                from: "a@b".into(),
                to: vec!["c@d".into()],
            },
            b"x",
        )
        .expect_err("no sendmail");
        assert!(e.to_string().contains("cannot run"), "{e}");
        // A garbage request gets an answer, not a hang.
        let mut s = UnixStream::connect(&sock).expect("connect");
        s.write_all(b"{nonsense\n").expect("write");
        let mut out = String::new();
        BufReader::new(&s).read_line(&mut out).expect("read");
        assert!(out.contains("\"ok\":false"), "{out}");
    }
}
