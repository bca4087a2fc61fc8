//! Fault injection through a real Postfix: the daemon as its own process (so it can be
//! killed and signalled), tracked messages, a sender that retries what it was told to
//! retry, and the tally that says where every message ended up.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::{free_port, palisade_bin, smtp_session, Outgoing, Postfix};

/// `palisade serve` as a child process with a configuration file of its own.
pub struct Daemon {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// The milter port (TCP on 127.0.0.1).
    pub port: u16,
    /// The /metrics port.
    pub http: u16,
}

impl Daemon {
    /// Starts the daemon listening on free loopback ports, with `milter` lines added to
    /// its `[milter]` table and `extra` TOML after it; waits until the milter port
    /// accepts.
    pub fn start(milter: &str, extra: &str) -> anyhow::Result<Daemon> {
        Self::start_on(free_port()?, milter, extra)
    }

    /// Like [`Daemon::start`], on a milter port chosen beforehand (so a Postfix can be
    /// set up to use it first).
    pub fn start_on(port: u16, milter: &str, extra: &str) -> anyhow::Result<Daemon> {
        let dir = tempfile::Builder::new()
            .prefix("palisade-fault-")
            .tempdir()?;
        let http = free_port()?;
        let mut config = format!(
            "[milter]\nlisten = \"inet:127.0.0.1:{port}\"\nshutdown_grace = \"5s\"\n{milter}\n\
             [http]\nlisten = \"127.0.0.1:{http}\"\n{extra}\n"
        );
        if !extra.contains("[state]") {
            // State of its own, never /var/lib/palisade.
            config.push_str(&format!(
                "[state]\ndir = \"{}\"\n",
                dir.path().join("state").display()
            ));
        }
        std::fs::write(dir.path().join("palisade.toml"), config)?;
        let mut d = Daemon {
            dir,
            child: None,
            port,
            http,
        };
        d.spawn()?;
        Ok(d)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("palisade.log"))?;
        let child = Command::new(palisade_bin()?)
            .arg("serve")
            .arg("--config")
            .arg(self.dir.path().join("palisade.toml"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("cannot start palisade serve")?;
        self.child = Some(child);
        // Ready once the port accepts; a daemon that exits at start (its port taken, a bad
        // configuration) is reported at once rather than waited on.
        let start = Instant::now();
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                bail!("palisade serve exited at start ({status}):\n{}", self.log());
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(20) {
                if let Some(mut c) = self.child.take() {
                    let _ = c.kill();
                    let _ = c.wait();
                }
                bail!("palisade did not listen within 20 s:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its configuration file (for the CLI to read the same settings).
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("palisade.toml")
    }

    /// The milter address in Postfix's syntax.
    pub fn milter(&self) -> String {
        format!("inet:127.0.0.1:{}", self.port)
    }

    /// Where /metrics is served.
    pub fn http_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.http))
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("palisade.log")).unwrap_or_default()
    }

    fn signal(&self, sig: &str) -> anyhow::Result<()> {
        let Some(child) = &self.child else {
            bail!("not running");
        };
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(child.id().to_string())
            .status()?;
        if !status.success() {
            bail!("kill -{sig} failed");
        }
        Ok(())
    }

    /// SIGKILL: no drain, no goodbye.
    pub fn kill9(&mut self) -> anyhow::Result<()> {
        self.signal("KILL")?;
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
        Ok(())
    }

    /// SIGHUP: reload the configuration.
    pub fn hup(&self) -> anyhow::Result<()> {
        self.signal("HUP")
    }

    /// Starts it again after [`Daemon::kill9`].
    pub fn restart(&mut self) -> anyhow::Result<()> {
        // The port may linger for a moment after a kill.
        let start = Instant::now();
        loop {
            match self.spawn() {
                Ok(()) => return Ok(()),
                Err(e) if start.elapsed() > Duration::from_secs(20) => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One tracked message.
#[derive(Debug, Clone)]
pub struct Tracked {
    /// Unique id, carried in the `X-Fault-Id` header.
    pub id: String,
    /// The SMTP transaction.
    pub out: Outgoing,
}

/// Tracked messages for one fault: every third one a threat (held), the rest ham.
pub fn messages(fault: &str, n: usize, threat: &str) -> Vec<Tracked> {
    (0..n)
        .map(|i| {
            let id = format!("{fault}-{i}");
            let data = if i % 3 == 2 {
                format!("X-Fault-Id: {id}\r\n{threat}")
            } else {
                format!(
                    "X-Fault-Id: {id}\r\nFrom: clerk@example.net\r\nTo: voter@county.example\r\nSubject: minutes {i}\r\n\r\nThe board approved the minutes of meeting {i}.\r\n"
                )
            };
            Tracked {
                id,
                out: Outgoing {
                    from: "clerk@example.net".into(),
                    to: "voter@county.example".into(),
                    data,
                },
            }
        })
        .collect()
}

/// What the sender saw for each message: accepted (250) or not, with the reply.
#[derive(Debug, Default, Clone)]
pub struct Sent {
    /// Ids Postfix accepted with 250.
    pub accepted: BTreeSet<String>,
    /// Ids answered 4xx or whose session broke: the sender keeps them and retries.
    pub retry: BTreeSet<String>,
    /// Ids refused with 5xx (a permanent answer the sender bounces; not lost).
    pub refused: BTreeMap<String, String>,
    /// Attempts that were told to retry.
    pub retries: usize,
}

/// Sends every message with `parallel` concurrent single-message sessions, as many
/// sending MTAs do; what is told to retry is recorded, not resent.
pub fn send_all(server: SocketAddr, msgs: &[Tracked], parallel: usize, sent: &Arc<Mutex<Sent>>) {
    let queue = Arc::new(Mutex::new(msgs.to_vec()));
    let mut threads = Vec::new();
    for _ in 0..parallel.max(1) {
        let queue = queue.clone();
        let sent = sent.clone();
        threads.push(std::thread::spawn(move || loop {
            let Some(m) = queue.lock().ok().and_then(|mut q| q.pop()) else {
                return;
            };
            let reply = smtp_session(server, std::slice::from_ref(&m.out))
                .ok()
                .and_then(|mut r| r.pop())
                .unwrap_or_else(|| "421 session broke".into());
            let Ok(mut s) = sent.lock() else { return };
            if reply.starts_with('2') {
                s.retry.remove(&m.id);
                s.accepted.insert(m.id.clone());
            } else if reply.starts_with('5') {
                s.refused.insert(m.id.clone(), reply);
            } else {
                s.retries += 1;
                s.retry.insert(m.id.clone());
            }
        }));
    }
    for t in threads {
        let _ = t.join();
    }
}

/// Resends what was told to retry, as a sending MTA's queue would, until everything was
/// accepted or `rounds` are spent.
pub fn retry_all(server: SocketAddr, msgs: &[Tracked], sent: &Arc<Mutex<Sent>>, rounds: usize) {
    for _ in 0..rounds {
        let pending: Vec<Tracked> = {
            let s = sent.lock().map(|s| s.retry.clone()).unwrap_or_default();
            msgs.iter().filter(|m| s.contains(&m.id)).cloned().collect()
        };
        if pending.is_empty() {
            return;
        }
        send_all(server, &pending, 4, sent);
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Where the messages ended up.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Messages sent (distinct ids).
    pub sent: usize,
    /// Delivered to the next hop.
    pub delivered: usize,
    /// In Postfix's hold queue (quarantined).
    pub held: usize,
    /// Still in Postfix's queues for a later try.
    pub deferred: usize,
    /// Refused permanently (the sender bounces them).
    pub refused: usize,
    /// Told to retry and never accepted within the test (the sender still has them).
    pub with_sender: usize,
    /// Sender retries needed along the way.
    pub retries: usize,
    /// Accepted by Postfix and then found nowhere.
    pub lost: usize,
}

impl Tally {
    /// One row of the fault matrix in docs/operations.md.
    pub fn row(&self, fault: &str) -> String {
        format!(
            "| {fault} | {} | {} | {} | {} | {} | {} | {} |",
            self.sent,
            self.delivered,
            self.held,
            self.deferred,
            self.retries,
            self.refused + self.with_sender,
            self.lost
        )
    }
}

fn ids_in(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("X-Fault-Id: "))
        .map(|s| s.trim().to_string())
        .collect()
}

/// Queue ids per queue name from `postqueue -j`.
fn queued(pf: &Postfix) -> Vec<(String, String)> {
    pf.queue_listing()
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            Some((
                v["queue_name"].as_str()?.to_string(),
                v["queue_id"].as_str()?.to_string(),
            ))
        })
        .collect()
}

fn postcat(pf: &Postfix, id: &str) -> String {
    Command::new("postcat")
        .arg("-c")
        .arg(pf.config_dir())
        .args(["-h", "-q", id])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Waits (at most `timeout`) until every accepted message is delivered or held, then
/// counts where each one is; a message still queued counts as deferred.
pub fn tally(pf: &Postfix, msgs: &[Tracked], sent: &Sent, timeout: Duration) -> Tally {
    let start = Instant::now();
    let (delivered, held, deferred) = loop {
        let delivered: BTreeSet<String> = pf.delivered().iter().flat_map(|m| ids_in(m)).collect();
        let mut held = BTreeSet::new();
        let mut deferred = BTreeSet::new();
        for (queue, qid) in queued(pf) {
            for id in ids_in(&postcat(pf, &qid)) {
                if queue == "hold" {
                    held.insert(id);
                } else {
                    deferred.insert(id);
                }
            }
        }
        let done = sent
            .accepted
            .iter()
            .all(|id| delivered.contains(id) || held.contains(id));
        if done || start.elapsed() > timeout {
            break (delivered, held, deferred);
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let ours = |set: &BTreeSet<String>| msgs.iter().filter(|m| set.contains(&m.id)).count();
    let lost = sent
        .accepted
        .iter()
        .filter(|id| !delivered.contains(*id) && !held.contains(*id) && !deferred.contains(*id))
        .count();
    Tally {
        sent: msgs.len(),
        delivered: ours(&delivered),
        held: ours(&held),
        deferred: ours(&deferred),
        refused: sent.refused.len(),
        with_sender: sent.retry.len(),
        retries: sent.retries,
        lost,
    }
}

/// The path of the repository's `fuzz/regressions` and test fixtures, for adversarial
/// inputs.
pub fn repo_path(rel: &str) -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}
