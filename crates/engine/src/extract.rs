//! From raw message bytes to the texts a reader sees: the subject, every text/plain and
//! text/html part (nested multiparts and attached messages included), decoded from
//! base64, quoted-printable and their charsets by mail-parser.

use mail_parser::{Message, MessageParser, PartType};

use crate::html;

/// Limits that keep hostile messages linear and bounded.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Text parts read at most.
    pub max_parts: usize,
    /// Attached messages followed this deep.
    pub max_depth: usize,
    /// Characters of text kept in all.
    pub max_text: usize,
    /// Work units (lexicon hits and frame matches) spent on one message at most; past
    /// it, the remaining texts are not scanned and SCAN_BUDGET_EXHAUSTED is scored.
    pub max_work: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_parts: 256,
            max_depth: 8,
            max_text: 4 << 20,
            max_work: 2_000_000,
        }
    }
}

/// Where a piece of text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The Subject header.
    Subject,
    /// A text/plain part.
    Plain,
    /// A text/html part, converted to visible text.
    Html,
}

/// One piece of readable text.
#[derive(Debug, Clone)]
pub struct Text {
    /// Where it came from.
    pub source: Source,
    /// The text.
    pub text: String,
}

/// Everything readable in a message.
#[derive(Debug, Clone, Default)]
pub struct Extracted {
    /// The texts, subject first.
    pub texts: Vec<Text>,
    /// Characters of HTML text hidden from the reader.
    pub hidden_chars: usize,
    /// Whether a limit cut the extraction short.
    pub limited: bool,
    /// Bytes of text kept so far, across all texts.
    text_len: usize,
    /// The Reply-To address, if any.
    pub reply_to: Option<String>,
    /// The display names of the To and Cc recipients (for campaign fingerprints, which
    /// mask a recipient's own name).
    pub recipient_names: Vec<String>,
}

/// Reads a message. Bytes that do not parse as a message are read as plain text.
pub fn extract(raw: &[u8], limits: &Limits) -> Extracted {
    let mut out = Extracted::default();
    // mail-parser has internal assertions that corrupt nesting can reach (a
    // `message/rfc822` part whose headers run into the next boundary trips one in debug
    // builds; found by fuzzing). A parser's panic must never cost a message: it is then
    // read as plain text, like any other message that does not parse.
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        MessageParser::default().parse(raw)
    }))
    .unwrap_or(None);
    match parsed {
        Some(message) => {
            out.reply_to = message
                .reply_to()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .map(str::to_string);
            for list in [message.to(), message.cc()].into_iter().flatten() {
                for addr in list.iter().take(100) {
                    if let Some(name) = addr.name() {
                        out.recipient_names.push(name.to_string());
                    }
                }
            }
            if let Some(subject) = message.subject() {
                push(&mut out, limits, Source::Subject, subject.to_string());
            }
            walk(&message, 0, limits, &mut out);
        }
        None => push(
            &mut out,
            limits,
            Source::Plain,
            String::from_utf8_lossy(raw).into_owned(),
        ),
    }
    out
}

fn walk(message: &Message<'_>, depth: usize, limits: &Limits, out: &mut Extracted) {
    for part in &message.parts {
        if out.texts.len() >= limits.max_parts {
            out.limited = true;
            return;
        }
        match &part.body {
            PartType::Text(text) => push(out, limits, Source::Plain, text.to_string()),
            PartType::Html(h) => {
                let visible = html::to_text(h);
                out.hidden_chars += visible.hidden_chars;
                push(out, limits, Source::Html, visible.text);
            }
            PartType::Message(inner) => {
                if depth + 1 >= limits.max_depth {
                    out.limited = true;
                    continue;
                }
                if let Some(subject) = inner.subject() {
                    push(out, limits, Source::Subject, subject.to_string());
                }
                walk(inner, depth + 1, limits, out);
            }
            PartType::Binary(_) | PartType::InlineBinary(_) | PartType::Multipart(_) => {}
        }
    }
}

fn push(out: &mut Extracted, limits: &Limits, source: Source, mut text: String) {
    let room = limits.max_text.saturating_sub(out.text_len);
    if room == 0 {
        out.limited = true;
        return;
    }
    if text.len() > room {
        let mut cut = room;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        out.limited = true;
    }
    out.text_len += text.len();
    out.texts.push(Text { source, text });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_parts_and_encodings() {
        let raw = b"From: =?utf-8?q?Proud_Boys?= <info@example.com>\r\n\
Subject: =?utf-8?b?Vm90ZSBmb3IgVHJ1bXAgb3IgZWxzZSE=?=\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
We will find =C3=BE you=\r\n now\r\n\
--b1\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
PHA+d2UgPGI+d2lsbDwvYj4gZmluZCB5b3U8L3A+\r\n\
--b1--\r\n";
        let e = extract(raw, &Limits::default());
        assert_eq!(
            crate::FromHeader::parse(raw).mailboxes,
            vec![("Proud Boys".to_string(), "info@example.com".to_string())]
        );
        assert_eq!(e.texts[0].text, "Vote for Trump or else!");
        assert_eq!(e.texts[1].source, Source::Plain);
        assert!(
            e.texts[1].text.contains("We will find þ you now"),
            "{:?}",
            e.texts[1].text
        );
        assert_eq!(e.texts[2].source, Source::Html);
        assert!(e.texts[2].text.contains("we will find you"));
    }

    #[test]
    fn attached_messages_are_read() {
        let raw = b"Subject: fwd\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nsee below\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nwe know where you live\r\n--x--\r\n";
        let e = extract(raw, &Limits::default());
        let all: Vec<&str> = e.texts.iter().map(|t| t.text.as_str()).collect();
        assert!(
            all.iter().any(|t| t.contains("we know where you live")),
            "{all:?}"
        );
        assert!(all.contains(&"inner"));
    }

    #[test]
    fn text_attachments_are_read() {
        let raw = b"Subject: see attached\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nsee the file\r\n--x\r\nContent-Type: text/plain; name=note.txt\r\nContent-Disposition: attachment; filename=note.txt\r\nContent-Transfer-Encoding: base64\r\n\r\nd2Uga25vdyB3aGVyZSB5b3UgbGl2ZQ==\r\n--x--\r\n";
        let e = extract(raw, &Limits::default());
        let all: Vec<&str> = e.texts.iter().map(|t| t.text.as_str()).collect();
        assert!(
            all.iter().any(|t| t.contains("we know where you live")),
            "{all:?}"
        );
    }

    #[test]
    fn text_is_capped() {
        let raw = format!("Subject: s\r\n\r\n{}", "a".repeat(10_000));
        let e = extract(
            raw.as_bytes(),
            &Limits {
                max_text: 1000,
                ..Limits::default()
            },
        );
        assert!(e.limited);
        assert_eq!(e.texts.iter().map(|t| t.text.len()).sum::<usize>(), 1000);
    }
}
