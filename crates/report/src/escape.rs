//! Text from mail made safe for a terminal or a log line.
//!
//! A sender controls the Subject, the addresses and every phrase a symbol quotes. Printed
//! raw, an encoded ESC starts a terminal escape sequence (retitling the window, hiding
//! text, on some terminals writing files), an encoded CR or LF forges a line of the
//! `quarantine list` table or of a log, and a bidi override reorders what the reader sees.
//! Every such character is shown as a visible escape instead.

use std::borrow::Cow;
use std::fmt;

/// Whether `c` must not reach a terminal or a log line as it is.
fn unsafe_char(c: char, keep_newlines: bool) -> bool {
    match c {
        '\n' | '\t' if keep_newlines => false,
        // C0 controls, DEL, C1 controls (U+0085 NEL and U+009B CSI among them).
        '\0'..='\x1f' | '\x7f'..='\u{9f}' => true,
        // Line and paragraph separators, bidi embeddings, overrides and isolates.
        '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

fn escape(s: &str, keep_newlines: bool) -> Cow<'_, str> {
    if !s.chars().any(|c| unsafe_char(c, keep_newlines)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !unsafe_char(c, keep_newlines) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x1b' => out.push_str("\\e"),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

/// One line of output: every control character escaped, newlines included.
pub fn line(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// A block of text (a message shown to a reader): newlines and tabs kept, every other
/// control character escaped.
pub fn block(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

/// Text for a mail header field or a report line: control characters (CR and LF
/// included) become spaces, at most `max` characters, trimmed. For text that goes into
/// mail Palisade writes, where a sender's CR LF must not start a header of its own.
pub fn one_line(s: &str, max: usize) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect::<String>()
        .trim()
        .to_string()
}

/// `Display` of a string with [`line`] applied, for log fields (`field = %Safe(s)`).
pub struct Safe<'a>(pub &'a str);

impl fmt::Display for Safe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&line(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_shown_not_sent() {
        assert_eq!(line("plain Subject é"), "plain Subject é");
        assert!(matches!(line("plain"), Cow::Borrowed(_)));
        assert_eq!(line("a\x1b]0;pwned\x07b"), "a\\e]0;pwned\\x07b");
        assert_eq!(line("a\r\nFAKE ROW"), "a\\r\\nFAKE ROW");
        assert_eq!(line("x\u{9b}31m"), "x\\x9b31m");
        assert_eq!(line("abc\u{202e}fdp.exe"), "abc\\u{202e}fdp.exe");
        assert_eq!(
            block("one\ntwo\r\n\tthree\x1b[2J"),
            "one\ntwo\\r\n\tthree\\e[2J"
        );
        assert_eq!(Safe("a\nb").to_string(), "a\\nb");
    }
}
