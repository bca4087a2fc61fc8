//! The quarantine review side through a real Postfix: a threat is held, reviewers sign
//! in (API and HTML forms), read the plain-words explanation, release it under dual
//! control with a reason, and it is delivered; partial release, legal hold, export with
//! ARF, notifications through Postfix's sendmail; the audit log verifies, and editing a
//! byte of it (or removing an entry) makes `palisade audit verify` fail. Also: whatever
//! a message carries is shown escaped, and no request without a session and a CSRF token
//! changes anything.
#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use palisade_config::{Config, Sources};
use palisade_e2e::dns::DnsServer;
use palisade_e2e::web::{add_user, hidden, Client};
use palisade_e2e::{
    fixture, free_port, palisade_bin, smtp_session, Outgoing, Postfix, PostfixConfig,
};
use palisade_server::{start, Running};
use serde_json::json;

const PW: &str = "correct horse battery staple";

fn dns() -> DnsServer {
    palisade_e2e::dns::proud_boys().unwrap()
}

/// A world: DNS, Postfix, a config file, the daemon with the review UI, and users.
struct World {
    _dns: DnsServer,
    pf: Postfix,
    running: Option<Running>,
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl World {
    async fn new(extra: &str) -> World {
        let dns = dns();
        let port = free_port().unwrap();
        let pf = Postfix::start(&PostfixConfig::with_milter(&format!(
            "inet:127.0.0.1:{port}"
        )))
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("palisade.toml");
        std::fs::write(
            &config,
            format!(
                r#"
[milter]
listen = "inet:127.0.0.1:{port}"
[http]
listen = "127.0.0.1:0"
[dns]
nameservers = ["{ns}"]
timeout = "500ms"
[auth]
authserv_id = "mx.palisade.test"
[policy]
trusted_networks = []
[quarantine]
postfix_config = "{pfdir}"
[state]
dir = "{state}"
[web]
listen = "127.0.0.1:0"
login_attempts = 3
{extra}
"#,
                ns = dns.nameserver(),
                pfdir = pf.config_dir().display(),
                state = dir.path().join("state").display(),
            ),
        )
        .unwrap();
        let c = Config::load(&Sources {
            file: Some(config.clone()),
            env: vec![],
        })
        .unwrap();
        let running = start(c).await.unwrap();
        for (name, role) in [
            ("clerk", "reviewer"),
            ("officer", "reviewer"),
            ("auditor", "auditor"),
            ("admin", "admin"),
        ] {
            add_user(&config, name, role, PW).unwrap();
        }
        World {
            _dns: dns,
            pf,
            running: Some(running),
            dir,
            config,
        }
    }

    fn web(&self) -> Client {
        Client::new(self.running.as_ref().unwrap().web.unwrap())
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("state").join("palisade.db")
    }

    fn send(&self, to: &[&str], data: &str) -> String {
        let mut replies = Vec::new();
        for t in to {
            replies.push(
                smtp_session(
                    self.pf.smtp,
                    &[Outgoing {
                        from: "info@officialproudboys.test".into(),
                        to: (*t).into(),
                        data: data.into(),
                    }],
                )
                .unwrap()
                .remove(0),
            );
        }
        replies.join("\n")
    }

    fn palisade(&self, args: &[&str]) -> std::process::Output {
        palisade_e2e::palisade_cli(args, &self.config).unwrap()
    }

    /// Delivered messages whose text contains `needle`.
    fn delivered_with(&self, needle: &str) -> Vec<String> {
        self.pf
            .delivered()
            .into_iter()
            .filter(|m| m.contains(needle))
            .collect()
    }

    fn wait_delivered_with(&self, needle: &str, n: usize) -> Vec<String> {
        palisade_e2e::wait_for(Duration::from_secs(30), || {
            self.delivered_with(needle).len() >= n
        })
        .unwrap_or_else(|e| {
            panic!(
                "{e}: {n} delivered with {needle:?}; log:\n{}",
                self.pf.maillog()
            )
        });
        self.delivered_with(needle)
    }
}

fn tar_files(tar_bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut a = tar::Archive::new(tar_bytes);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.push((name, data));
    }
    out
}

fn file<'a>(files: &'a [(String, Vec<u8>)], suffix: &str) -> &'a [u8] {
    &files.iter().find(|(n, _)| n.ends_with(suffix)).unwrap().1
}

/// Copies a database and its audit head into `dir`; returns the copy's path.
fn dir_copy(db: &Path, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let name = db.file_name().unwrap();
    let copy = dir.join(name);
    std::fs::copy(db, &copy).unwrap();
    let head = |p: &Path| {
        let mut n = p.file_name().unwrap().to_os_string();
        n.push(".audit-head");
        p.with_file_name(n)
    };
    std::fs::copy(head(db), head(&copy)).unwrap();
    copy
}

/// Whether `text` appears in the page HTML-escaped (named or numeric references).
fn shown(html: &str, text: &str) -> bool {
    let numeric: String = text
        .chars()
        .map(|c| match c {
            '<' => "&#60;".to_string(),
            '>' => "&#62;".to_string(),
            '&' => "&#38;".to_string(),
            '"' => "&#34;".to_string(),
            '\'' => "&#39;".to_string(),
            c => c.to_string(),
        })
        .collect();
    let named = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;");
    html.contains(&numeric) || html.contains(&named)
}

/// Sends `text` with swaks from `from` to `to` (one transaction) and returns the queue
/// id it was held under.
fn send_held(w: &World, name: &str, from: &str, to: &str, text: &str) -> String {
    let before = w.pf.held();
    let file = palisade_e2e::message_file(w.dir.path(), name, text).unwrap();
    let out =
        w.pf.swaks(&["--from", from, "--to", to, "--data", file.to_str().unwrap()])
            .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    w.pf.wait_held(before.len() + 1, Duration::from_secs(30))
        .unwrap();
    let id =
        w.pf.held()
            .into_iter()
            .find(|id| !before.contains(id))
            .unwrap();
    // Arrival times have one-second resolution: keep the list's order certain.
    std::thread::sleep(Duration::from_millis(1100));
    id
}

/// Runs the palisade binary as `nobody`, as the shipped unit runs it as `palisade`.
fn as_nobody(args: &[&str], config: &Path, stdin: Option<&str>) -> std::process::Output {
    use std::io::Write;
    use std::os::unix::process::CommandExt;
    let (uid, gid) = palisade_e2e::uid_gid("nobody").unwrap();
    let mut child = Command::new(palisade_e2e::palisade_bin_for_everyone().unwrap())
        .args(args)
        .arg("--config")
        .arg(config)
        .uid(uid)
        .gid(gid)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

mod browser;
mod escaping;
mod helper;
mod release;
