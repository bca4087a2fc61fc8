//! A throwaway redis-server (Debian's package) on a free loopback port, with its
//! append-only file in a directory of its own so a kill and a restart keep the data,
//! and the signals the fault tests need (SIGSTOP for a server that hangs, SIGKILL for
//! one that is gone).

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};

use crate::{on_free_port, require_tools, wait_for};

/// A running redis-server.
pub struct RedisServer {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl RedisServer {
    /// Starts one and waits until it answers PING.
    pub fn start() -> anyhow::Result<RedisServer> {
        require_tools(&["redis-server", "redis-cli"])?;
        let dir = tempfile::Builder::new()
            .prefix("palisade-redis-")
            .tempdir()?;
        let mut r = RedisServer {
            dir,
            child: None,
            port: 0,
        };
        // A free port can be taken by someone else (another test's server) before this
        // one binds it; then this server exits and the PING would be answered by the
        // other one, whose data the test would share. So the answer must come from our
        // process, or we try again on another port.
        on_free_port(
            |port| {
                r.port = port;
                let started = r.spawn();
                if started.is_err() {
                    if let Some(mut c) = r.child.take() {
                        let _ = c.kill();
                        let _ = c.wait();
                    }
                }
                started
            },
            |_| true,
        )?;
        Ok(r)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .arg("--dir")
            .arg(self.dir.path())
            // Every write reaches the append-only file before its reply, so a killed and
            // restarted server keeps what it acknowledged; no fsync, which on a loaded
            // disk could hold a reply past the daemon's short Redis timeout.
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "no",
                "--save",
                "",
                "--daemonize",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start redis-server")?;
        let pid = child.id();
        self.child = Some(child);
        wait_for(Duration::from_secs(20), || self.ping())
            .context("redis-server did not answer PING")?;
        let info = self.cli(&["INFO", "server"])?;
        let answering = info
            .lines()
            .find_map(|l| l.trim().strip_prefix("process_id:"))
            .and_then(|p| p.parse::<u32>().ok());
        if answering != Some(pid) {
            bail!(
                "port {} is answered by another redis-server ({answering:?}), not ours ({pid})",
                self.port
            );
        }
        Ok(())
    }

    /// `redis://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Whether it answers PING.
    pub fn ping(&self) -> bool {
        TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            && self
                .cli(&["PING"])
                .map(|o| o.trim() == "PONG")
                .unwrap_or(false)
    }

    /// Runs redis-cli against it (2 s at most) and returns its output.
    pub fn cli(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new("timeout")
            .args(["2", "redis-cli", "-p"])
            .arg(self.port.to_string())
            .args(args)
            .output()?;
        if !out.status.success() {
            bail!("redis-cli {args:?} failed");
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn signal(&self, sig: &str) -> anyhow::Result<()> {
        let Some(child) = &self.child else {
            bail!("redis-server is not running");
        };
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(child.id().to_string())
            .status()?
            .success();
        if !ok {
            bail!("kill -{sig} failed");
        }
        Ok(())
    }

    /// SIGSTOP: connections stay open, nothing is answered.
    pub fn freeze(&self) -> anyhow::Result<()> {
        self.signal("STOP")
    }

    /// SIGCONT after [`RedisServer::freeze`].
    pub fn thaw(&self) -> anyhow::Result<()> {
        self.signal("CONT")
    }

    /// SIGKILL: gone at once (what was written to the append-only file stays).
    pub fn kill(&mut self) -> anyhow::Result<()> {
        self.signal("KILL")?;
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
        Ok(())
    }

    /// Starts it again on the same port and directory after [`RedisServer::kill`].
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.spawn()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.signal("CONT");
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
