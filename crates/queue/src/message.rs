//! Reading and rewriting a held message's header: unfolding, decoding, and the note a
//! released copy carries.

use serde::{Deserialize, Serialize};

/// How a released copy tells its recipients that a reviewer released it, and whether
/// Palisade's warning marks go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseNote {
    /// The reviewer.
    pub by: String,
    /// When, RFC 3339.
    pub at: String,
    /// Remove the subject prefix, X-Spam-Flag/Status/Score/Level and X-Palisade-Result.
    pub remove_markers: bool,
    /// The subject prefix Palisade adds (`[policy] subject_prefix`).
    pub prefix: String,
}

/// Header fields Palisade writes on tagged and held mail.
const MARKER_HEADERS: &[&str] = &[
    "X-Spam-Flag",
    "X-Spam-Status",
    "X-Spam-Score",
    "X-Spam-Level",
    "X-Palisade-Result",
];

impl ReleaseNote {
    /// The message as its recipients get it: an `X-Palisade-Released` field on top (any
    /// earlier one dropped: only Palisade writes it), and, when markers go, without
    /// Palisade's marker fields and subject prefix. The body and every other field stay
    /// byte for byte. One pass over the header block.
    pub fn apply(&self, raw: &[u8]) -> Vec<u8> {
        let (head, body) = split_message(raw);
        let nl: &[u8] = if head.contains(&b'\r') {
            b"\r\n"
        } else {
            b"\n"
        };
        let mut out = Vec::with_capacity(raw.len() + 128);
        out.extend_from_slice(
            format!(
                "X-Palisade-Released: by {}; {}; {}",
                palisade_report::escape::one_line(&self.by, 100),
                palisade_report::escape::one_line(&self.at, 40),
                if self.remove_markers {
                    "warning marks removed"
                } else {
                    "warning marks kept"
                }
            )
            .as_bytes(),
        );
        out.extend_from_slice(nl);
        let prefix = self.prefix.trim();
        let mut drop = false;
        for field_line in head.split_inclusive(|&b| b == b'\n') {
            let continuation = field_line
                .first()
                .is_some_and(|b| *b == b' ' || *b == b'\t');
            if !continuation {
                let name = field_line
                    .split(|&b| b == b':')
                    .next()
                    .map(|n| String::from_utf8_lossy(n).trim().to_ascii_lowercase())
                    .unwrap_or_default();
                drop = name == "x-palisade-released"
                    || (self.remove_markers
                        && MARKER_HEADERS.iter().any(|m| m.eq_ignore_ascii_case(&name)));
                if !drop && self.remove_markers && name == "subject" && !prefix.is_empty() {
                    out.extend_from_slice(&strip_prefix(field_line, prefix.as_bytes()));
                    continue;
                }
            }
            if !drop {
                out.extend_from_slice(field_line);
            }
        }
        out.extend_from_slice(body);
        out
    }
}

/// `Subject: <prefix> rest` without the prefix (and the space after it).
fn strip_prefix(field_line: &[u8], prefix: &[u8]) -> Vec<u8> {
    let Some(colon) = field_line.iter().position(|&b| b == b':') else {
        return field_line.to_vec();
    };
    let value = &field_line[colon + 1..];
    let start = value
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(value.len());
    if !value[start..].starts_with(prefix) {
        return field_line.to_vec();
    }
    let mut rest = &value[start + prefix.len()..];
    while let [b' ' | b'\t', tail @ ..] = rest {
        rest = tail;
    }
    let mut out = field_line[..=colon].to_vec();
    out.push(b' ');
    out.extend_from_slice(rest);
    out
}

/// A message split into its header block (with its last line end) and the rest (the
/// empty line and the body).
pub fn split_message(raw: &[u8]) -> (&[u8], &[u8]) {
    let mut at = 0;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        if line == b"\n" || line == b"\r\n" {
            return raw.split_at(at);
        }
        at += line.len();
    }
    (raw, &[])
}

/// The header fields of a header block, in order, each unfolded onto one line.
pub fn unfold(headers: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in headers.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
            continue;
        }
        let (n, v) = line.split_once(':').unwrap_or((line, ""));
        out.push((n.to_string(), v.trim().to_string()));
    }
    out
}

/// A header's unfolded value from a header block (the first field of that name).
pub fn header(headers: &str, name: &str) -> Option<String> {
    unfold(headers)
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

pub(crate) fn decoded_subject(headers: &str) -> String {
    let extracted = palisade_engine::extract::extract(
        format!("{headers}\r\n\r\n").as_bytes(),
        &Default::default(),
    );
    extracted
        .texts
        .first()
        .filter(|t| t.source == palisade_engine::extract::Source::Subject)
        .map(|t| t.text.clone())
        .unwrap_or_default()
}

/// The From header of a header block as a person reads it: `Name <address>`, encoded
/// words decoded; several addresses joined by commas; empty when there is none.
pub fn header_from(headers: &str) -> String {
    let block = format!("{headers}\r\n\r\n");
    let Some(msg) = mail_parser::MessageParser::default().parse_headers(block.as_bytes()) else {
        return String::new();
    };
    let Some(from) = msg.from() else {
        return String::new();
    };
    from.iter()
        .map(|a| {
            let addr = a.address().unwrap_or_default();
            match a.name().map(str::trim).filter(|n| !n.is_empty()) {
                Some(name) if !addr.is_empty() => format!("{name} <{addr}>"),
                Some(name) => name.to_string(),
                None => addr.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A header value with its encoded words (`=?utf-8?q?…?=`) decoded, for display.
pub fn decode_header(value: &str) -> String {
    if !value.contains("=?") {
        return value.to_string();
    }
    let block = format!("Subject: {value}\r\n\r\n");
    mail_parser::MessageParser::default()
        .parse_headers(block.as_bytes())
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_else(|| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_released_copy_loses_the_marks_and_says_who_released_it() {
        let held = "X-Palisade-Released: forged by the sender\nReceived: from x\nX-Spam-Flag: YES\nX-Spam-Status: Yes, score=30.00 required=5.00\n\ttests=THREAT_PURSUIT\nSubject: [SUSPECTED THREAT] Final notice\nX-Palisade-Result: quarantine; score=30.00; THREAT_PURSUIT(8.00)\nAuthentication-Results: mx; spf=fail\nFrom: a@b\n\nSubject: [SUSPECTED THREAT] in the body stays\nX-Spam-Flag: YES in the body stays\n";
        let note = ReleaseNote {
            by: "clerk".into(),
            at: "2026-12-07T21:00:00Z".into(),
            remove_markers: true,
            prefix: "[SUSPECTED THREAT] ".into(),
        };
        let out = String::from_utf8(note.apply(held.as_bytes())).unwrap();
        assert_eq!(
            out,
            "X-Palisade-Released: by clerk; 2026-12-07T21:00:00Z; warning marks removed\nReceived: from x\nSubject: Final notice\nAuthentication-Results: mx; spf=fail\nFrom: a@b\n\nSubject: [SUSPECTED THREAT] in the body stays\nX-Spam-Flag: YES in the body stays\n"
        );
        let kept = ReleaseNote {
            remove_markers: false,
            ..note
        };
        let out = String::from_utf8(kept.apply(held.as_bytes())).unwrap();
        assert!(out.starts_with(
            "X-Palisade-Released: by clerk; 2026-12-07T21:00:00Z; warning marks kept\nReceived"
        ));
        assert!(out.contains("Subject: [SUSPECTED THREAT] Final notice\n"));
        assert!(out.contains("X-Spam-Flag: YES\nX-Spam-Status"));
        assert!(!out.contains("forged by the sender"));
        // No header block end: everything is header; CRLF kept.
        let crlf =
            note_crlf().apply(b"Subject: [SUSPECTED THREAT]  x\r\nX-Spam-Score: 9\r\n\r\nbody\r\n");
        assert_eq!(
            String::from_utf8(crlf).unwrap(),
            "X-Palisade-Released: by a; t; warning marks removed\r\nSubject: x\r\n\r\nbody\r\n"
        );
    }

    fn note_crlf() -> ReleaseNote {
        ReleaseNote {
            by: "a".into(),
            at: "t".into(),
            remove_markers: true,
            prefix: "[SUSPECTED THREAT] ".into(),
        }
    }

    #[test]
    fn from_and_encoded_headers_read_as_people_see_them() {
        assert_eq!(
            header_from(
                "From: =?utf-8?q?Condado_de_Le=C3=B3n?= <clerk@county.example>\nSubject: x"
            ),
            "Condado de León <clerk@county.example>"
        );
        assert_eq!(header_from("From: plain@example.org"), "plain@example.org");
        assert_eq!(header_from("Subject: none"), "");
        assert_eq!(
            decode_header("=?utf-8?q?Aviso_=C3=BAltimo?="),
            "Aviso último"
        );
        assert_eq!(decode_header("plain text"), "plain text");
    }

    #[test]
    fn headers_unfold() {
        let h =
            "Subject: a\nX-Palisade-Result: quarantine; score=12.00;\n VOTE_OR_ELSE(6.00)\nTo: b\n";
        assert_eq!(
            header(h, "x-palisade-result").as_deref(),
            Some("quarantine; score=12.00; VOTE_OR_ELSE(6.00)")
        );
        assert_eq!(header(h, "Cc"), None);
    }
}
