//! A real Prometheus server for tests (Debian's `prometheus` package), scraping targets
//! the test names every second, and a small client for its HTTP query API.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::{free_port, require_tools};

/// A running Prometheus.
pub struct Prometheus {
    dir: tempfile::TempDir,
    child: Child,
    /// Its HTTP address.
    pub addr: SocketAddr,
}

/// A plain HTTP GET; returns status and body.
pub fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status")?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok((status, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` (host:port) as job `palisade` every second.
    pub fn start(targets: &[SocketAddr]) -> anyhow::Result<Prometheus> {
        require_tools(&["prometheus"])?;
        let dir = tempfile::Builder::new()
            .prefix("palisade-prom-")
            .tempdir()?;
        let port = free_port()?;
        let list: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: palisade\n    static_configs:\n      - targets: [{}]\n",
            list.join(", ")
        );
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config)?;
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start prometheus")?;
        let p = Prometheus {
            dir,
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let start = Instant::now();
        while !matches!(http_get(p.addr, "/-/ready"), Ok((200, _))) {
            if start.elapsed() > Duration::from_secs(30) {
                bail!("prometheus not ready after 30s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(p)
    }

    /// Evaluates an instant query and returns its single value (`None` for an empty
    /// result).
    pub fn value(&self, query: &str) -> anyhow::Result<Option<f64>> {
        let (status, body) =
            http_get(self.addr, &format!("/api/v1/query?query={}", encode(query)))?;
        if status != 200 {
            bail!("query {query}: HTTP {status}: {body}");
        }
        let v: serde_json::Value = serde_json::from_str(&body)?;
        let result = &v["data"]["result"];
        match result.as_array().and_then(|a| a.first()) {
            None => Ok(None),
            Some(r) => Ok(r["value"][1].as_str().and_then(|s| s.parse().ok())),
        }
    }

    /// Waits until `query` evaluates to `expected`.
    pub fn wait_value(&self, query: &str, expected: f64, timeout: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            let got = self.value(query)?;
            if got == Some(expected) {
                return Ok(());
            }
            if start.elapsed() > timeout {
                bail!("{query} is {got:?}, expected {expected} after {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Where its data lives (for debugging).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
