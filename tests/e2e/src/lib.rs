//! Harness for end-to-end tests: a throwaway Postfix instance (its own config directory,
//! queue and log under a temporary directory, smtpd on a free loopback port, an
//! `smtp-sink` next hop that writes every delivered message to a file), and helpers to
//! drive it with swaks, smtp-source and miltertest.
//!
//! Postfix needs root to start; the tests say so plainly when run without it.
#![forbid(unsafe_code)]

pub mod dns;
pub mod faults;
pub mod milter;
pub mod ports;
pub mod prometheus;
pub mod redis;
pub mod signing;
pub mod state;
pub mod web;

pub use ports::free_port;
pub use state::state_dir;

use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};

/// Runs `start` on a free port, and again on another one (up to 8 in all) while it fails
/// with an error `taken` says means the port was gone: another test may bind a port
/// between [`free_port`] picking it and `start` binding it.
pub fn on_free_port<T>(
    mut start: impl FnMut(u16) -> anyhow::Result<T>,
    taken: impl Fn(&anyhow::Error) -> bool,
) -> anyhow::Result<T> {
    let mut tries = 1;
    loop {
        match start(free_port()?) {
            Err(e) if tries < 8 && taken(&e) => tries += 1,
            other => return other,
        }
    }
}

/// Fails with a clear message when a required program is missing.
pub fn require_tools(tools: &[&str]) -> anyhow::Result<()> {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| {
            !std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).any(|d| d.join(t).is_file()))
                .unwrap_or(false)
                && !Path::new("/usr/sbin").join(t).is_file()
        })
        .collect();
    ensure!(
        missing.is_empty(),
        "missing {}: run tests/run, which installs them",
        missing.join(", ")
    );
    Ok(())
}

/// A system user's uid and primary gid, from /etc/passwd.
pub fn uid_gid(user: &str) -> anyhow::Result<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd")?;
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() > 3 && f[0] == user {
            return Ok((f[2].parse()?, f[3].parse()?));
        }
    }
    bail!("no user {user}: is Postfix installed?")
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// How the Postfix instance is set up.
#[derive(Debug, Clone)]
pub struct PostfixConfig {
    /// `smtpd_milters` value (e.g. `inet:127.0.0.1:8895`); empty for none.
    pub milter: String,
    /// `milter_default_action`.
    pub default_action: String,
    /// More main.cf lines.
    pub extra: Vec<String>,
    /// Run smtpd and cleanup chrooted in the queue directory, as Debian's master.cf
    /// does (milter socket paths are then relative to it).
    pub chroot: bool,
    /// An existing queue directory to use instead of a fresh one: the package test
    /// runs on Debian's /var/spool/postfix, the chroot the package prepared. The mail
    /// the test leaves there is deleted when this Postfix stops.
    pub queue_directory: Option<PathBuf>,
}

impl PostfixConfig {
    /// A Postfix that uses this milter and tempfails when it is unavailable.
    pub fn with_milter(milter: &str) -> PostfixConfig {
        PostfixConfig {
            milter: milter.to_string(),
            default_action: "tempfail".into(),
            extra: Vec::new(),
            chroot: false,
            queue_directory: None,
        }
    }
}

/// A running throwaway Postfix.
pub struct Postfix {
    root: tempfile::TempDir,
    /// The queue directory: in `root`, or the one the configuration named.
    queue: PathBuf,
    /// Whether `queue` belongs to someone else (its mail is deleted at the end).
    shared_queue: bool,
    /// Where its smtpd listens.
    pub smtp: SocketAddr,
    sink: Child,
    stopped: bool,
}

const MASTER_CF: &str = "\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
";

impl Postfix {
    /// Writes a config directory, starts an smtp-sink next hop and Postfix, and waits
    /// until smtpd answers.
    pub fn start(cfg: &PostfixConfig) -> anyhow::Result<Postfix> {
        ensure!(
            is_root(),
            "the Postfix end-to-end tests must run as root (Postfix starts its own daemons)"
        );
        require_tools(&["postfix", "smtp-sink", "postqueue"])?;
        let (uid, gid) = uid_gid("postfix")?;
        let root = tempfile::Builder::new()
            .prefix("palisade-e2e-")
            .tempdir_in(std::env::temp_dir())?;
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755))?;
        let etc = root.path().join("etc");
        let sink_dir = root.path().join("sink");
        for d in ["etc", "queue", "data", "sink"] {
            std::fs::create_dir(root.path().join(d))?;
        }
        for d in ["data", "sink"] {
            std::os::unix::fs::chown(root.path().join(d), Some(uid), Some(gid))?;
        }
        let queue = cfg
            .queue_directory
            .clone()
            .unwrap_or_else(|| root.path().join("queue"));
        if cfg.queue_directory.is_some() {
            // Someone else's queue: only when no Postfix runs on it and it holds no mail,
            // since stopping this one deletes every message in it.
            let pid = std::fs::read_to_string(queue.join("pid/master.pid")).unwrap_or_default();
            ensure!(
                pid.trim().is_empty() || master_gone(&queue.join("pid/master.pid")),
                "a Postfix master (pid {}) runs on {}",
                pid.trim(),
                queue.display()
            );
            for sub in ["incoming", "active", "deferred", "hold", "maildrop"] {
                let busy = std::fs::read_dir(queue.join(sub))
                    .map(|mut d| d.next().is_some())
                    .unwrap_or(false);
                ensure!(!busy, "{} holds mail in {sub}", queue.display());
            }
        }
        let smtp_port = free_port()?;
        let sink_port = free_port()?;
        let r = root.path().display();
        let mut main_cf = format!(
            "compatibility_level = 3.6
queue_directory = {q}
data_directory = {r}/data
maillog_file = {r}/maillog
maillog_file_prefixes = {r}
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.palisade.test
mydomain = palisade.test
myorigin = palisade.test
mydestination =
mynetworks = 127.0.0.0/8
relay_domains = county.example, example.net
relayhost = [127.0.0.1]:{sink_port}
smtp_dns_support_level = disabled
alias_maps =
alias_database =
milter_default_action = {action}
smtpd_milters = {milter}
",
            action = cfg.default_action,
            milter = cfg.milter,
            q = queue.display(),
        );
        for line in &cfg.extra {
            main_cf.push_str(line);
            main_cf.push('\n');
        }
        std::fs::write(etc.join("main.cf"), main_cf)?;
        let master = if cfg.chroot {
            // Debian's layout: smtpd and cleanup see only the queue directory, with the
            // few files they read copied in, as Debian's postfix service does.
            for f in [
                "etc/services",
                "etc/hosts",
                "etc/localtime",
                "etc/nsswitch.conf",
            ] {
                let src = Path::new("/").join(f);
                if src.exists() {
                    let dst = queue.join(f);
                    if let Some(d) = dst.parent() {
                        std::fs::create_dir_all(d)?;
                    }
                    std::fs::copy(&src, &dst)?;
                }
            }
            format!(
                "127.0.0.1:{smtp_port} inet n - y - - smtpd\n{}",
                MASTER_CF.replace(
                    "cleanup   unix  n       -       n",
                    "cleanup   unix  n       -       y"
                )
            )
        } else {
            format!("127.0.0.1:{smtp_port} inet n - n - - smtpd\n{MASTER_CF}")
        };
        std::fs::write(etc.join("master.cf"), master)?;
        let sink = Command::new("smtp-sink")
            .args(["-u", "postfix", "-d"])
            .arg(format!("{}/%Y%m%d%H%M%S.", sink_dir.display()))
            .arg(format!("127.0.0.1:{sink_port}"))
            .arg("100")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start smtp-sink")?;
        let pf = Postfix {
            root,
            queue,
            shared_queue: cfg.queue_directory.is_some(),
            smtp: SocketAddr::from(([127, 0, 0, 1], smtp_port)),
            sink,
            stopped: false,
        };
        let out = pf.postfix(&["start"])?;
        ensure!(
            out.status.success(),
            "postfix start failed: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            pf.maillog()
        );
        wait_for(Duration::from_secs(20), || {
            TcpStream::connect(pf.smtp).is_ok()
                && TcpStream::connect(("127.0.0.1", sink_port)).is_ok()
        })
        .with_context(|| format!("smtpd did not come up:\n{}", pf.maillog()))?;
        Ok(pf)
    }

    /// The queue directory (the chroot, when smtpd runs chrooted).
    pub fn queue_dir(&self) -> PathBuf {
        self.queue.clone()
    }

    /// The config directory (for `postfix -c`, `postqueue -c`, …).
    pub fn config_dir(&self) -> PathBuf {
        self.root.path().join("etc")
    }

    /// Runs `postfix -c DIR ARGS`.
    pub fn postfix(&self, args: &[&str]) -> anyhow::Result<Output> {
        Ok(Command::new("postfix")
            .arg("-c")
            .arg(self.config_dir())
            .args(args)
            .output()?)
    }

    /// Postfix's log so far.
    pub fn maillog(&self) -> String {
        std::fs::read_to_string(self.root.path().join("maillog")).unwrap_or_default()
    }

    /// Sends one message with swaks; `args` are swaks options (`--from`, `--to`,
    /// `--data FILE`, …). Returns swaks's output, which shows the whole dialogue.
    pub fn swaks(&self, args: &[&str]) -> anyhow::Result<Output> {
        Command::new("swaks")
            .arg("--server")
            .arg(self.smtp.to_string())
            .args(["--helo", "client.example.org", "--timeout", "60"])
            .args(args)
            .output()
            .context("cannot run swaks")
    }

    /// Sends `messages` messages over `sessions` SMTP sessions with smtp-source, several
    /// messages per session.
    pub fn smtp_source(&self, sessions: usize, messages: usize) -> anyhow::Result<Output> {
        Command::new("smtp-source")
            .args([
                "-d",
                "-c",
                "-f",
                "sender@example.org",
                "-t",
                "clerk@county.example",
            ])
            .args(["-s", &sessions.to_string(), "-m", &messages.to_string()])
            .args(["-S", "Polling place hours"])
            .arg(self.smtp.to_string())
            .output()
            .context("cannot run smtp-source")
    }

    /// Every message the next hop received so far, as text (smtp-sink prefixes the
    /// envelope as X-Client-Addr:, X-Mail-Args:, … lines).
    pub fn delivered(&self) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(self.root.path().join("sink")) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        files
            .iter()
            .filter_map(|p| std::fs::read(p).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            // smtp-sink writes a file once the transaction ends; skip half-written ones.
            .filter(|s| s.contains("\n\n") || s.contains("\r\n\r\n"))
            .collect()
    }

    /// Waits until at least `n` messages were delivered.
    pub fn wait_delivered(&self, n: usize, timeout: Duration) -> anyhow::Result<Vec<String>> {
        self.wait_for_count("delivered", n, timeout, || self.delivered())?;
        // Give stragglers a moment so that "exactly n" checks are meaningful.
        std::thread::sleep(Duration::from_millis(300));
        Ok(self.delivered())
    }

    /// Polls `list` until it has `n` entries; on timeout, says what the queue and the log
    /// show.
    fn wait_for_count<T>(
        &self,
        what: &str,
        n: usize,
        timeout: Duration,
        list: impl Fn() -> Vec<T>,
    ) -> anyhow::Result<Vec<T>> {
        let start = Instant::now();
        loop {
            let got = list();
            if got.len() >= n {
                return Ok(got);
            }
            if start.elapsed() > timeout {
                bail!(
                    "{} of {n} messages {what} after {timeout:?}; queue:\n{}\nlog:\n{}",
                    got.len(),
                    self.queue_listing(),
                    self.maillog()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `postqueue -j` output: one JSON object per queued message.
    pub fn queue_listing(&self) -> String {
        Command::new("postqueue")
            .arg("-c")
            .arg(self.config_dir())
            .arg("-j")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Stops Postfix and the sink.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let _ = self.postfix(&["stop"]);
        let _ = self.sink.kill();
        let _ = self.sink.wait();
        // master exits asynchronously; give it a moment before the directory goes.
        let pid = self.queue.join("pid/master.pid");
        let _ = wait_for(Duration::from_secs(10), || {
            !pid.exists() || master_gone(&pid)
        });
        if self.shared_queue {
            let _ = Command::new("postsuper")
                .arg("-c")
                .arg(self.config_dir())
                .args(["-d", "ALL"])
                .output();
        }
    }
}

fn master_gone(pid_file: &Path) -> bool {
    std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .map(|pid| !Path::new(&format!("/proc/{pid}")).exists())
        .unwrap_or(true)
}

impl Drop for Postfix {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `ready` until it is true or `timeout` passes.
pub fn wait_for(timeout: Duration, mut ready: impl FnMut() -> bool) -> anyhow::Result<()> {
    let start = Instant::now();
    while !ready() {
        if start.elapsed() > timeout {
            bail!("not ready after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Runs a miltertest Lua script from tests/e2e/miltertest against `socket` (in
/// sendmail's syntax, e.g. `inet:8895@127.0.0.1` or `unix:/path`).
pub fn miltertest(script: &str, socket: &str) -> anyhow::Result<Output> {
    require_tools(&["miltertest"])?;
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("miltertest")
        .join(script);
    Command::new("miltertest")
        .arg("-s")
        .arg(path)
        .arg("-D")
        .arg(format!("socket={socket}"))
        .output()
        .context("cannot run miltertest")
}

/// A message from tests/fixtures/messages.
pub fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/messages")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A test message file written from `text`.
pub fn message_file(dir: &Path, name: &str, text: &str) -> anyhow::Result<PathBuf> {
    let p = dir.join(name);
    std::fs::write(&p, text.replace('\n', "\r\n"))?;
    Ok(p)
}

/// The `palisade` binary of this build (target/<profile>/palisade), which `cargo test
/// --workspace` builds before running any test.
pub fn palisade_bin() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .ok_or_else(|| anyhow::anyhow!("unexpected test binary location {}", exe.display()))?;
    let bin = profile_dir.join("palisade");
    ensure!(
        bin.is_file(),
        "{} is missing: build it with `cargo build -p palisade` (tests/run does)",
        bin.display()
    );
    Ok(bin)
}

/// A copy of [`palisade_bin`] that every user can run, for tests that run Palisade as
/// another user (`nobody`, `palisade`): the source tree may live where only its owner
/// can enter (root's home, a 0700 directory). Copied once per test process into a
/// directory of its own under the temporary directory (removed with it: tests/run gives
/// every run its own).
pub fn palisade_bin_for_everyone() -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    static COPY: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    let copy = COPY.get_or_init(|| {
        let copy = || -> anyhow::Result<PathBuf> {
            let dir = tempfile::Builder::new()
                .prefix("palisade-bin-")
                .tempdir_in(std::env::temp_dir())?
                .keep();
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
            let bin = dir.join("palisade");
            std::fs::copy(palisade_bin()?, &bin)?;
            std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755))?;
            Ok(bin)
        };
        copy().map_err(|e| format!("cannot copy the palisade binary for other users: {e:#}"))
    });
    copy.clone().map_err(anyhow::Error::msg)
}

/// Runs the palisade binary with `args` and `--config config`.
pub fn palisade_cli(args: &[&str], config: &Path) -> anyhow::Result<Output> {
    Ok(Command::new(palisade_bin()?)
        .args(args)
        .arg("--config")
        .arg(config)
        .output()?)
}

/// One message for [`smtp_session`].
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// MAIL FROM.
    pub from: String,
    /// RCPT TO.
    pub to: String,
    /// The message (headers and body); lines may end in LF or CRLF.
    pub data: String,
}

/// Sends several messages over one SMTP session and returns, per message, the reply
/// line to the end of DATA (or the first refusal). A plain client, as mail clients and
/// other MTAs are: EHLO, then MAIL, RCPT, DATA for each message, then QUIT.
pub fn smtp_session(server: SocketAddr, messages: &[Outgoing]) -> anyhow::Result<Vec<String>> {
    use std::io::{BufRead, BufReader, Write};
    let stream = TcpStream::connect(server)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let read_reply = |reader: &mut BufReader<TcpStream>| -> anyhow::Result<String> {
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                bail!("server closed the connection");
            }
            // The last line of a reply has a space, not a dash, after the code.
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(line.trim_end().to_string());
            }
        }
    };
    read_reply(&mut reader)?;
    writer.write_all(b"EHLO client.example.org\r\n")?;
    read_reply(&mut reader)?;
    let mut results = Vec::new();
    'messages: for m in messages {
        // MAIL and RCPT want 2xx, DATA wants 3xx; a refusal ends this message.
        for (command, wanted) in [
            (format!("MAIL FROM:<{}>\r\n", m.from), '2'),
            (format!("RCPT TO:<{}>\r\n", m.to), '2'),
            ("DATA\r\n".to_string(), '3'),
        ] {
            writer.write_all(command.as_bytes())?;
            let r = read_reply(&mut reader)?;
            if !r.starts_with(wanted) {
                results.push(r);
                writer.write_all(b"RSET\r\n")?;
                read_reply(&mut reader)?;
                continue 'messages;
            }
        }
        let mut data = String::new();
        for line in m.data.replace("\r\n", "\n").lines() {
            if line.starts_with('.') {
                data.push('.');
            }
            data.push_str(line);
            data.push_str("\r\n");
        }
        data.push_str(".\r\n");
        writer.write_all(data.as_bytes())?;
        results.push(read_reply(&mut reader)?);
    }
    writer.write_all(b"QUIT\r\n")?;
    let _ = read_reply(&mut reader);
    Ok(results)
}

impl Postfix {
    /// Sends an ordinary message and the 2020 threat in one SMTP session; checks that
    /// both are accepted, that the first is delivered with `X-Palisade-Result: accept`
    /// and that the second lands in the hold queue. Returns the held queue id.
    pub fn ordinary_mail_delivered_and_the_2020_threat_held(&self) -> String {
        let replies = smtp_session(
            self.smtp,
            &[
                Outgoing {
                    from: "clerk@example.net".into(),
                    to: "voter@county.example".into(),
                    data: "Subject: minutes\r\n\r\nThe minutes are attached.\r\n".into(),
                },
                Outgoing {
                    from: "info@officialproudboys.test".into(),
                    to: "voter@county.example".into(),
                    data: fixture("proud-boys-2020.eml"),
                },
            ],
        )
        .expect("SMTP session");
        assert!(replies.iter().all(|r| r.starts_with("250")), "{replies:?}");
        let delivered = self
            .wait_delivered(1, Duration::from_secs(30))
            .expect("the ordinary message delivered");
        assert!(
            delivered[0].contains("X-Palisade-Result: accept"),
            "{}",
            delivered[0]
        );
        let held = self
            .wait_held(1, Duration::from_secs(30))
            .expect("the threat held");
        assert_eq!(held.len(), 1);
        held[0].clone()
    }

    /// Queue ids in the hold queue.
    pub fn held(&self) -> Vec<String> {
        self.queue_listing()
            .lines()
            .filter(|l| l.contains("\"queue_name\": \"hold\""))
            .filter_map(|l| {
                l.split("\"queue_id\": \"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .map(str::to_string)
            })
            .collect()
    }

    /// Waits until the hold queue has at least `n` messages.
    pub fn wait_held(&self, n: usize, timeout: Duration) -> anyhow::Result<Vec<String>> {
        self.wait_for_count("held", n, timeout, || self.held())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_port_is_tried_again_on_another_and_other_errors_end_it() {
        let mut ports = Vec::new();
        let got = on_free_port(
            |port| {
                ports.push(port);
                if ports.len() < 3 {
                    bail!("taken")
                }
                Ok(port)
            },
            |e| e.to_string() == "taken",
        )
        .unwrap();
        assert_eq!(ports.len(), 3);
        assert_eq!(got, ports[2]);

        let mut calls = 0;
        let err = on_free_port(
            |_| -> anyhow::Result<()> {
                calls += 1;
                bail!("broken")
            },
            |e| e.to_string() == "taken",
        )
        .unwrap_err();
        assert_eq!((calls, err.to_string()), (1, "broken".to_string()));

        let mut calls = 0;
        let _ = on_free_port(
            |_| -> anyhow::Result<()> {
                calls += 1;
                bail!("taken")
            },
            |_| true,
        );
        assert_eq!(calls, 8, "bounded");
    }
}
