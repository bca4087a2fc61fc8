//! A real DNS server for tests: unbound from Debian on a free loopback port, answering
//! only from the records a test gives it (everything under its zones that it was not
//! given is NXDOMAIN; nothing is ever forwarded).

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::{free_port, on_free_port, require_tools};

/// One resource record in presentation format, e.g. `county.test. TXT "v=spf1 -all"`.
#[derive(Debug, Clone)]
pub struct Record(pub String);

impl Record {
    /// A TXT record; long values are split into 255-byte strings as DNS requires.
    pub fn txt(name: &str, value: &str) -> Record {
        let chunks: Vec<&[u8]> = value.as_bytes().chunks(255).collect();
        Self::txt_strings(name, &chunks)
    }

    /// A TXT record made of exactly these character strings.
    pub fn txt_strings(name: &str, strings: &[&[u8]]) -> Record {
        let mut parts = Vec::new();
        for s in strings {
            let mut quoted = String::from("\"");
            for &b in *s {
                match b {
                    b'"' | b'\\' => {
                        quoted.push('\\');
                        quoted.push(b as char);
                    }
                    // A single quote would end unbound's quoted local-data line.
                    0x20..=0x7e if b != b'\'' => quoted.push(b as char),
                    _ => quoted.push_str(&format!("\\{b:03}")),
                }
            }
            quoted.push('"');
            parts.push(quoted);
        }
        if parts.is_empty() {
            parts.push("\"\"".into());
        }
        Record(format!("{} 300 IN TXT {}", fqdn(name), parts.join(" ")))
    }

    /// A PTR record with the owner name given as is (`4.3.2.1.in-addr.arpa`).
    pub fn ptr(owner: &str, host: &str) -> Record {
        Record(format!("{} 300 IN PTR {}", fqdn(owner), fqdn(host)))
    }

    /// An A record.
    pub fn a(name: &str, ip: &str) -> Record {
        Record(format!("{} 300 IN A {ip}", fqdn(name)))
    }

    /// An AAAA record.
    pub fn aaaa(name: &str, ip: &str) -> Record {
        Record(format!("{} 300 IN AAAA {ip}", fqdn(name)))
    }

    /// An MX record.
    pub fn mx(name: &str, pref: u16, host: &str) -> Record {
        Record(format!("{} 300 IN MX {pref} {}", fqdn(name), fqdn(host)))
    }

    /// A PTR record for an IPv4 address.
    pub fn ptr4(ip: &str, host: &str) -> Record {
        let rev: Vec<&str> = ip.split('.').rev().collect();
        Record(format!(
            "{}.in-addr.arpa. 300 IN PTR {}",
            rev.join("."),
            fqdn(host)
        ))
    }

    /// A CNAME record.
    pub fn cname(name: &str, target: &str) -> Record {
        Record(format!("{} 300 IN CNAME {}", fqdn(name), fqdn(target)))
    }
}

/// A name in zone-file syntax: absolute, with characters outside letters, digits, `-`,
/// `_` and `.` escaped as `\DDD` (test suites use names with spaces and `%`).
fn fqdn(name: &str) -> String {
    let mut out = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'*') {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\{b:03}"));
        }
    }
    if out != "." && !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// A running unbound.
pub struct DnsServer {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// Where it answers (UDP and TCP).
    pub addr: SocketAddr,
    zones: Vec<String>,
    refused: Vec<String>,
    dead_port: u16,
}

impl DnsServer {
    /// Starts unbound serving `records` as the only content of `zones` (e.g. `["test",
    /// "in-addr.arpa"]`): names under them that have no record are NXDOMAIN.
    pub fn start(zones: &[&str], records: &[Record]) -> anyhow::Result<DnsServer> {
        Self::start_with(zones, &[], records)
    }

    /// Like [`DnsServer::start`], and queries for names in `timeouts` go unanswered (they
    /// are forwarded to a port where nobody listens). `"."` as a zone makes every name
    /// local.
    pub fn start_with(
        zones: &[&str],
        timeouts: &[&str],
        records: &[Record],
    ) -> anyhow::Result<DnsServer> {
        let refused = timeouts;
        require_tools(&["unbound"])?;
        let dir = tempfile::Builder::new().prefix("palisade-dns-").tempdir()?;
        let mut server = DnsServer {
            dir,
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            zones: zones.iter().map(|z| z.to_string()).collect(),
            refused: refused.iter().map(|z| z.to_string()).collect(),
            dead_port: free_port()?,
        };
        // The port is free for TCP when picked and unbound needs it for UDP too: a
        // server that cannot bind it says so and exits at once, and another port is
        // tried. Other errors end it here.
        on_free_port(
            |port| {
                server.addr.set_port(port);
                server.write_config(records)?;
                server.spawn()
            },
            |e| e.is::<PortTaken>(),
        )?;
        Ok(server)
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("unbound.conf")
    }

    fn write_config(&self, records: &[Record]) -> anyhow::Result<()> {
        let mut conf = format!(
            "server:
  interface: 127.0.0.1@{port}
  port: {port}
  do-ip6: no
  do-daemonize: no
  use-syslog: no
  logfile: \"\"
  verbosity: 0
  username: \"\"
  chroot: \"\"
  directory: \"{dir}\"
  pidfile: \"{dir}/unbound.pid\"
  access-control: 127.0.0.0/8 allow
  module-config: \"iterator\"
  num-threads: 1
  so-reuseport: no
  do-not-query-localhost: no
",
            port = self.addr.port(),
            dir = self.dir.path().display()
        );
        // Everything outside the test's zones is answered here too (NXDOMAIN): this
        // server never recurses, so no query ever leaves the machine.
        if !self.zones.iter().any(|z| z == ".") {
            conf.push_str("  local-zone: \".\" static\n");
        }
        for z in &self.zones {
            conf.push_str(&format!("  local-zone: \"{}\" static\n", fqdn(z)));
            if z != "." {
                // An SOA makes negative answers cacheable, as they are on real servers.
                conf.push_str(&format!(
                    "  local-data: '{zone} 300 IN SOA ns.{zone} hostmaster.{zone} 1 3600 600 86400 300'\n",
                    zone = fqdn(z)
                ));
            }
        }
        for z in &self.refused {
            conf.push_str(&format!("  local-zone: \"{}\" transparent\n", fqdn(z)));
        }
        for r in records {
            conf.push_str(&format!("  local-data: '{}'\n", r.0.replace('\'', "")));
        }
        // Names that must time out are sent on to a port where nobody answers.
        for z in &self.refused {
            conf.push_str(&format!(
                "forward-zone:\n  name: \"{}\"\n  forward-addr: 127.0.0.1@{}\n",
                fqdn(z),
                self.dead_port
            ));
        }
        conf.push_str("remote-control:\n  control-enable: no\n");
        std::fs::write(self.conf(), conf)?;
        Ok(())
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let check = Command::new("unbound-checkconf").arg(self.conf()).output();
        if let Ok(out) = &check {
            if !out.status.success() {
                bail!(
                    "unbound config rejected: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        let child = Command::new("unbound")
            .arg("-d")
            .arg("-c")
            .arg(self.conf())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start unbound")?;
        let pid = child.id();
        self.child = Some(child);
        // Ready once it answers a query over UDP and has written its pid file, which
        // unbound does only after binding its ports: an answer alone could come from
        // another test's server on the same port.
        let start = Instant::now();
        loop {
            let zone = self
                .zones
                .iter()
                .find(|z| z.as_str() != ".")
                .map_or("test", String::as_str);
            if self.pid_file_is(pid) && probe(self.addr, zone) {
                return Ok(());
            }
            if let Some(child) = &mut self.child {
                if let Ok(Some(status)) = child.try_wait() {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = std::io::Read::read_to_string(&mut e, &mut err);
                    }
                    self.child = None;
                    if err.contains("could not open ports") {
                        return Err(PortTaken(err).into());
                    }
                    bail!("unbound exited at start ({status}): {}", err.trim());
                }
            }
            if start.elapsed() > Duration::from_secs(10) {
                bail!("unbound did not answer within 10s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether unbound's pid file names `pid` (a kill leaves an old one behind).
    fn pid_file_is(&self, pid: u32) -> bool {
        std::fs::read_to_string(self.dir.path().join("unbound.pid"))
            .is_ok_and(|s| s.trim() == pid.to_string())
    }

    /// Stops the server (queries then time out), keeping its port and records.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again after [`DnsServer::stop`], on the same port. While stopped, a
    /// resolver's random source port may be that number for the length of a query, so a
    /// taken port is tried again for up to 5 s.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        let until = Instant::now() + Duration::from_secs(5);
        while self.child.is_none() {
            match self.spawn() {
                Err(e) if e.is::<PortTaken>() && Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                other => other?,
            }
        }
        Ok(())
    }

    /// `ip:port` for `[dns] nameservers`.
    pub fn nameserver(&self) -> String {
        self.addr.to_string()
    }
}

/// unbound could not bind its port (another process has it); its error output.
#[derive(Debug)]
struct PortTaken(String);

impl std::fmt::Display for PortTaken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unbound could not open its ports: {}", self.0.trim())
    }
}

impl std::error::Error for PortTaken {}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends a minimal query (`ZONE. IN SOA`, answered locally) and reports whether any
/// answer came back.
fn probe(addr: SocketAddr, zone: &str) -> bool {
    let Ok(sock) = UdpSocket::bind("127.0.0.1:0") else {
        return false;
    };
    let _ = sock.set_read_timeout(Some(Duration::from_millis(200)));
    // id 0x1234, RD, one question: ZONE, type SOA (6), class IN.
    let mut query = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in zone.trim_end_matches('.').split('.') {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 6, 0, 1]);
    if sock.send_to(&query, addr).is_err() {
        return false;
    }
    let mut buf = [0u8; 512];
    matches!(sock.recv_from(&mut buf), Ok((n, _)) if n >= 12 && buf[0] == 0x12 && buf[1] == 0x34)
}

/// The 2020 case's DNS: the sender's domain publishes SPF for one other server and
/// DMARC p=reject, so mail from the test client fails both.
pub fn proud_boys() -> anyhow::Result<DnsServer> {
    DnsServer::start(
        &["test", "example", "org", "net", "in-addr.arpa"],
        &[
            Record::txt("officialproudboys.test", "v=spf1 ip4:198.51.100.7 -all"),
            Record::txt("_dmarc.officialproudboys.test", "v=DMARC1; p=reject"),
        ],
    )
}

/// A resolver that receives every query and answers none, on UDP and TCP: what a
/// resolver behind a dead network link looks like (queries dropped, not refused). The
/// hardening test holds one in-process; tests/perf/dns-outage runs the `blackhole-dns`
/// example of this crate.
pub struct BlackHole {
    /// The port of both sockets.
    pub port: u16,
    _udp: std::net::UdpSocket,
    _tcp: std::net::TcpListener,
}

impl BlackHole {
    /// Both sockets on one free port, which another test may take between picking and
    /// binding (then another port is tried).
    pub fn new() -> anyhow::Result<BlackHole> {
        crate::on_free_port(
            |port| {
                Ok(BlackHole {
                    port,
                    _udp: std::net::UdpSocket::bind(("127.0.0.1", port))?,
                    _tcp: std::net::TcpListener::bind(("127.0.0.1", port))?,
                })
            },
            |e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::AddrInUse)
            },
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_from_another_server_on_the_port_is_not_taken_for_ours() {
        // unbound binds ports of its own while it runs: not beside the port tests.
        let _serial = crate::ports::tests::SERIAL
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let first = DnsServer::start(&["test"], &[]).unwrap();
        // A second server set up on the first one's port.
        let mut second = DnsServer {
            dir: tempfile::tempdir().unwrap(),
            child: None,
            addr: first.addr,
            zones: vec!["test".into()],
            refused: Vec::new(),
            dead_port: free_port().unwrap(),
        };
        second.write_config(&[]).unwrap();
        // The first server answers the readiness query; the second never bound.
        let err = second.spawn().unwrap_err();
        assert!(err.is::<PortTaken>(), "{err:#}");
        assert!(second.child.is_none());
    }
}
