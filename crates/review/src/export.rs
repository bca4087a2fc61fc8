//! The evidence bundle for one held message: a tar archive with the message as Postfix
//! holds it (byte for byte) and its SHA-256, the verdict with its symbols, the
//! authentication results, the audit trail, a plain-words explanation, and an ARF
//! (RFC 5965) report ready to send to an abuse desk.

use std::io::Write;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::audit::Entry;
use super::explain::Explanation;
use super::store::MessageState;
use palisade_queue::{header, Held};
use palisade_report::escape::one_line;

/// Who the reports come from.
#[derive(Debug, Clone)]
pub struct Reporter {
    /// This host's name (Reporting-MTA).
    pub host: String,
    /// The From of ARF reports and notifications.
    pub from: String,
}

/// Everything that goes into a bundle.
pub(crate) struct Bundle<'a> {
    /// The queue's facts.
    pub held: &'a Held,
    /// The message as Postfix holds it.
    pub raw: &'a [u8],
    /// Its header block.
    pub headers: &'a str,
    /// The explanation.
    pub explanation: &'a Explanation,
    /// The verdict recorded when it was held.
    pub recorded: Option<&'a Value>,
    /// Palisade's state of the message.
    pub state: &'a MessageState,
    /// Its audit entries.
    pub audit: &'a [Entry],
    /// Who exported it.
    pub exported_by: &'a str,
}

/// SHA-256 as lower-case hex.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The client IP the message came from: recorded, else the newest Received header that
/// names one in brackets.
fn source_ip(recorded: Option<&Value>, headers: &str) -> Option<String> {
    if let Some(ip) = recorded
        .and_then(|r| r["envelope"]["client_addr"].as_str())
        .filter(|s| s.parse::<std::net::IpAddr>().is_ok())
    {
        return Some(ip.to_string());
    }
    let received = header(headers, "Received")?;
    let start = received.find('[')? + 1;
    let end = start + received[start..].find(']')?;
    let ip = received[start..end].trim_start_matches("IPv6:");
    ip.parse::<std::net::IpAddr>().ok().map(|ip| ip.to_string())
}

/// The message as it arrived, before Palisade changed it: the header fields recorded
/// when it was held (as the milter received them) and the held body, with the held
/// message's line ends. `None` when no record was kept.
pub(crate) fn as_received(recorded: Option<&Value>, raw: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let fields = recorded?["received_headers"].as_str()?;
    let fields = base64::engine::general_purpose::STANDARD
        .decode(fields)
        .ok()?;
    let (_, body) = palisade_queue::split_message(raw);
    let crlf = raw.windows(2).any(|w| w == b"\r\n");
    let mut out = Vec::with_capacity(fields.len() + body.len());
    for line in fields.split_inclusive(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        out.extend_from_slice(line);
        out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
    }
    out.extend_from_slice(body);
    Some(out)
}

impl Bundle<'_> {
    /// The ARF report (RFC 5965): a multipart/report with a human part, the
    /// machine-readable feedback report, and the whole message.
    pub fn arf(&self, reporter: &Reporter) -> anyhow::Result<Vec<u8>> {
        let h = self.held;
        let boundary = format!("=_palisade_{}", super::store::random_hex(12)?);
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut out = Vec::new();
        let from_domain = self
            .recorded
            .and_then(|r| r["auth"]["from_domain"].as_str())
            .map(str::to_string)
            .filter(|d| !d.is_empty())
            .or_else(|| {
                header(self.headers, "From").and_then(|f| {
                    let f = f.trim_end_matches('>');
                    f.rsplit_once('@').map(|(_, d)| d.trim().to_string())
                })
            });
        writeln!(out, "From: {}\r", one_line(&reporter.from, 200))?;
        writeln!(out, "Date: {}\r", mail_date(now))?;
        writeln!(
            out,
            "Message-ID: <arf.{}.{}@{}>\r",
            one_line(&h.queue_id, 32),
            super::store::random_hex(6)?,
            one_line(&reporter.host, 200)
        )?;
        writeln!(
            out,
            "Subject: Abuse report: threatening message {}\r",
            h.queue_id
        )?;
        writeln!(out, "MIME-Version: 1.0\r")?;
        writeln!(
            out,
            "Content-Type: multipart/report; report-type=feedback-report;\r\n\tboundary=\"{boundary}\"\r"
        )?;
        writeln!(out, "\r")?;
        writeln!(out, "This is a multipart message in MIME format.\r\n\r")?;
        writeln!(out, "--{boundary}\r")?;
        writeln!(out, "Content-Type: text/plain; charset=utf-8\r")?;
        writeln!(out, "Content-Transfer-Encoding: 8bit\r\n\r")?;
        writeln!(
            out,
            "This is an abuse report for a message received by {} on {}.\r",
            one_line(&reporter.host, 200),
            mail_date(h.arrival_time as i64)
        )?;
        writeln!(out, "{}\r", one_line(&self.explanation.summary, 500))?;
        for f in &self.explanation.findings {
            if f.words.is_empty() {
                writeln!(out, "- {}\r", one_line(&f.plain, 300))?;
            } else {
                writeln!(
                    out,
                    "- {}: {}\r",
                    one_line(&f.plain, 300),
                    one_line(&f.words, 500)
                )?;
            }
        }
        for a in &self.explanation.auth {
            writeln!(out, "- {}\r", one_line(a, 300))?;
        }
        writeln!(out, "The complete message is attached.\r\n\r")?;
        writeln!(out, "--{boundary}\r")?;
        writeln!(out, "Content-Type: message/feedback-report\r\n\r")?;
        writeln!(out, "Feedback-Type: abuse\r")?;
        writeln!(out, "User-Agent: Palisade/{}\r", env!("CARGO_PKG_VERSION"))?;
        writeln!(out, "Version: 1\r")?;
        writeln!(out, "Original-Mail-From: <{}>\r", one_line(&h.sender, 300))?;
        for r in &h.recipients {
            writeln!(out, "Original-Rcpt-To: <{}>\r", one_line(r, 300))?;
        }
        writeln!(out, "Arrival-Date: {}\r", mail_date(h.arrival_time as i64))?;
        writeln!(
            out,
            "Reporting-MTA: dns; {}\r",
            one_line(&reporter.host, 200)
        )?;
        if let Some(ip) = source_ip(self.recorded, self.headers) {
            writeln!(out, "Source-IP: {ip}\r")?;
        }
        if let Some(ar) = header(self.headers, "Authentication-Results") {
            writeln!(out, "Authentication-Results: {}\r", one_line(&ar, 2000))?;
        }
        if let Some(d) = from_domain {
            writeln!(out, "Reported-Domain: {}\r", one_line(&d, 255))?;
        }
        writeln!(out, "Incidents: 1\r\n\r")?;
        writeln!(out, "--{boundary}\r")?;
        writeln!(out, "Content-Type: message/rfc822\r")?;
        writeln!(out, "Content-Disposition: inline\r\n\r")?;
        // The message as it arrived when that was recorded (else as held), with CRLF
        // line ends, as mail is sent.
        let original = as_received(self.recorded, self.raw);
        let message = original.as_deref().unwrap_or(self.raw);
        for line in message.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
        writeln!(out, "--{boundary}--\r")?;
        Ok(out)
    }

    /// The verdict file: what was decided and why, as JSON.
    fn verdict_json(&self) -> Value {
        let mut v = self.held.summary();
        v["x_palisade_result"] = json!(self.held.result);
        let mut recorded = self.recorded.cloned();
        if let Some(Value::Object(r)) = recorded.as_mut() {
            // In message-as-received.eml instead.
            r.remove("received_headers");
        }
        v["recorded"] = json!(recorded);
        v["explanation"] = json!(self.explanation);
        v["state"] = json!(self.state);
        v
    }

    /// The bundle as a tar archive, every file under `palisade-<queue id>/`.
    pub fn tar(&self, reporter: &Reporter) -> anyhow::Result<Vec<u8>> {
        let id = &self.held.queue_id;
        let sha = sha256_hex(self.raw);
        let dir = format!("palisade-{id}");
        let auth = header(self.headers, "Authentication-Results").unwrap_or_default();
        let readme = format!(
            "Evidence bundle for message {id}, exported by {} at {}.\n\n\
             message.eml         the message as Postfix holds it, byte for byte\n\
             message-as-received.eml  the message as it arrived, before Palisade's marks\n\
             \x20                   (header fields as the milter received them; absent\n\
             \x20                   when no verdict was recorded)\n\
             message.eml.sha256  its SHA-256 (check: sha256sum -c message.eml.sha256)\n\
             verdict.json        Palisade's verdict, symbols and explanation\n\
             authentication-results.txt  SPF, DKIM, DMARC and ARC as Palisade found them\n\
             audit.json          every recorded view, release, delete, report and export\n\
             arf-report.eml      an abuse report (RFC 5965): add the abuse desk as To and send\n\n\
             SHA-256 of message.eml: {sha}\n",
            self.exported_by,
            super::audit::timestamp()
        );
        let mut files: Vec<(&str, Vec<u8>)> = vec![
            ("README.txt", readme.into_bytes()),
            ("message.eml", self.raw.to_vec()),
            (
                "message.eml.sha256",
                format!("{sha}  message.eml\n").into_bytes(),
            ),
            (
                "verdict.json",
                serde_json::to_vec_pretty(&self.verdict_json())?,
            ),
            (
                "authentication-results.txt",
                format!("{auth}\n").into_bytes(),
            ),
            ("audit.json", serde_json::to_vec_pretty(self.audit)?),
            ("arf-report.eml", self.arf(reporter)?),
        ];
        if let Some(original) = as_received(self.recorded, self.raw) {
            files.insert(2, ("message-as-received.eml", original));
        }
        let mtime = time::OffsetDateTime::now_utc().unix_timestamp().max(0) as u64;
        let mut builder = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut head = tar::Header::new_gnu();
            head.set_size(data.len() as u64);
            head.set_mode(0o644);
            head.set_mtime(mtime);
            head.set_entry_type(tar::EntryType::Regular);
            builder.append_data(&mut head, format!("{dir}/{name}"), data.as_slice())?;
        }
        Ok(builder.into_inner()?)
    }
}

/// An RFC 5322 date for mail Palisade writes.
pub fn mail_date(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc2822)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_holds_the_exact_message_and_a_valid_arf() {
        let raw = b"Received: from evil (evil [203.0.113.9])\n\tby mx\nFrom: Proud Boys <info@officialproudboys.com>\nSubject: x\n\nVote or else\n.\n--=_palisade_x\n";
        let held = Held {
            queue_id: "4ABC".into(),
            arrival_time: 1_700_000_000,
            age_s: 1,
            size: raw.len() as u64,
            sender: "info@officialproudboys.com".into(),
            recipients: vec!["voter@example.org".into()],
            subject: "x".into(),
            from: "Proud Boys <info@officialproudboys.com>".into(),
            score: 12.0,
            symbols: vec!["COMBO_DEMAND_AND_THREAT(4.00)".into()],
            result: "quarantine; score=12.00; COMBO_DEMAND_AND_THREAT(4.00)".into(),
        };
        let headers = String::from_utf8_lossy(raw)
            .split("\n\n")
            .next()
            .unwrap_or("")
            .to_string();
        let expl = super::super::explain::explain(
            None,
            &held.symbols,
            None,
            &palisade_engine::Engine::with_default_rules(palisade_engine::Thresholds {
                tag: 5.0,
                quarantine: 10.0,
                reject: 0.0,
            })
            .expect("rules")
            .rules()
            .clone(),
        );
        let b = Bundle {
            held: &held,
            raw,
            headers: &headers,
            explanation: &expl,
            recorded: None,
            state: &MessageState::default(),
            audit: &[],
            exported_by: "clerk",
        };
        let reporter = Reporter {
            host: "mx.example".into(),
            from: "palisade@mx.example".into(),
        };
        let tar_bytes = b.tar(&reporter).expect("tar");
        let mut archive = tar::Archive::new(tar_bytes.as_slice());
        let mut names = Vec::new();
        for entry in archive.entries().expect("entries") {
            let mut entry = entry.expect("entry");
            let name = entry.path().expect("path").to_string_lossy().into_owned();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut data).expect("read");
            if name.ends_with("/message.eml") {
                assert_eq!(data, raw, "byte for byte");
            }
            if name.ends_with(".sha256") {
                assert!(String::from_utf8_lossy(&data).starts_with(&sha256_hex(raw)));
            }
            if name.ends_with("arf-report.eml") {
                let text = String::from_utf8_lossy(&data);
                assert!(text.contains("report-type=feedback-report"));
                assert!(text.contains("Feedback-Type: abuse\r\n"));
                assert!(text.contains("Source-IP: 203.0.113.9\r\n"));
                assert!(text.contains("Original-Rcpt-To: <voter@example.org>"));
                assert!(text.contains("Reported-Domain: officialproudboys.com"));
                let parsed = mail_parser::MessageParser::default()
                    .parse(&data)
                    .expect("parses");
                assert_eq!(parsed.parts.len(), 4, "report, text, feedback, message");
            }
            names.push(name);
        }
        assert_eq!(names.len(), 7, "{names:?}");
    }
}
