//! HTML to the text a reader sees.
//!
//! Tags go; entities are decoded; block elements become line breaks while inline ones
//! join what they split (`<span>vo</span><span>te</span>` reads "vote"); script, style and
//! head are dropped; text the reader cannot see (display:none, visibility:hidden, zero
//! font size or opacity, text coloured like its background, the `hidden` attribute) is
//! left out and measured, since hiding text is a trick of its own.

/// What an HTML part looks like to a reader.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HtmlText {
    /// The visible text.
    pub text: String,
    /// Characters of text that a reader would not see.
    pub hidden_chars: usize,
}

const BLOCK: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "center",
    "dd",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "tbody",
    "thead",
    "tfoot",
    "tr",
    "ul",
];
const CELL: &[&str] = &["td", "th", "img", "input", "button", "option"];
const SKIP: &[&str] = &[
    "script", "style", "head", "title", "template", "noscript", "svg",
];
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr",
];
/// Open elements tracked at most; deeper nesting is read as text without bookkeeping.
const MAX_DEPTH: usize = 512;

struct Open {
    name: String,
    hidden: bool,
    skip: bool,
}

/// Converts HTML to visible text, in time linear in the input.
pub fn to_text(html: &str) -> HtmlText {
    let bytes = html.as_bytes();
    let mut out = HtmlText {
        text: String::with_capacity(html.len() / 2),
        hidden_chars: 0,
    };
    let mut stack: Vec<Open> = Vec::new();
    let mut open_count: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut hidden_depth = 0usize;
    let mut skip_depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'<' {
            let end = memchr(b'<', &bytes[i..]).map_or(bytes.len(), |p| i + p);
            let chunk = &html[i..end];
            if skip_depth == 0 {
                if hidden_depth > 0 {
                    out.hidden_chars += chunk.chars().filter(|c| !c.is_whitespace()).count();
                } else {
                    decode_entities(chunk, &mut out.text);
                }
            }
            i = end;
            continue;
        }
        // Comments, doctypes and processing instructions.
        if html[i..].starts_with("<!--") {
            i = find(bytes, i + 4, b"-->").map_or(bytes.len(), |p| p + 3);
            continue;
        }
        if bytes.get(i + 1).is_some_and(|b| *b == b'!' || *b == b'?') {
            i = memchr(b'>', &bytes[i..]).map_or(bytes.len(), |p| i + p + 1);
            continue;
        }
        let closing = bytes.get(i + 1) == Some(&b'/');
        let name_start = if closing { i + 2 } else { i + 1 };
        let name_end = bytes[name_start..]
            .iter()
            .position(|b| !b.is_ascii_alphanumeric())
            .map_or(bytes.len(), |p| name_start + p);
        if name_end == name_start {
            // A lone '<' is text.
            if skip_depth == 0 && hidden_depth == 0 {
                out.text.push('<');
            }
            i += 1;
            continue;
        }
        let name = html[name_start..name_end].to_ascii_lowercase();
        let tag_end = tag_end(bytes, name_end);
        // Without the closing `>` (a tag cut off at the end) the attributes run to the end.
        let attrs_end = if bytes.get(tag_end.wrapping_sub(1)) == Some(&b'>') {
            tag_end - 1
        } else {
            tag_end
        };
        let attrs = html.get(name_end..attrs_end.max(name_end)).unwrap_or("");
        i = tag_end;

        let breaks = BLOCK.contains(&name.as_str());
        if skip_depth == 0 && hidden_depth == 0 {
            if breaks {
                out.text.push('\n');
            } else if CELL.contains(&name.as_str()) {
                out.text.push(' ');
            }
            // Alt and title text is read too: a reader sees it in place of an image or on
            // hover, and senders hide words there.
            if !closing && !attrs.is_empty() && !is_hidden(attrs) {
                for attr in ["alt", "title"] {
                    if let Some(v) = attr_value(attrs, attr).filter(|v| !v.trim().is_empty()) {
                        out.text.push(' ');
                        decode_entities(v, &mut out.text);
                        out.text.push(' ');
                    }
                }
            }
        }
        if closing {
            // Only elements actually open are looked for: a stray closing tag under a
            // deep stack would otherwise cost a scan of the whole stack.
            if open_count.get(name.as_str()).copied().unwrap_or(0) == 0 {
                continue;
            }
            if let Some(pos) = stack.iter().rposition(|o| o.name == name) {
                for o in stack.drain(pos..) {
                    if let Some(n) = open_count.get_mut(o.name.as_str()) {
                        *n = n.saturating_sub(1);
                    }
                    hidden_depth -= usize::from(o.hidden);
                    skip_depth -= usize::from(o.skip);
                }
            }
            continue;
        }
        let self_closing = attrs.trim_end().ends_with('/');
        if VOID.contains(&name.as_str()) || self_closing || stack.len() >= MAX_DEPTH {
            continue;
        }
        let hidden = is_hidden(attrs);
        let skip = SKIP.contains(&name.as_str());
        hidden_depth += usize::from(hidden);
        skip_depth += usize::from(skip);
        *open_count.entry(name.clone()).or_insert(0) += 1;
        stack.push(Open { name, hidden, skip });
    }
    out
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

/// The index just past the `>` that ends a tag, honouring quoted attribute values.
fn tag_end(bytes: &[u8], mut i: usize) -> usize {
    let mut quote = None;
    while i < bytes.len() {
        match (quote, bytes[i]) {
            (None, b'>') => return i + 1,
            (None, q @ (b'"' | b'\'')) => quote = Some(q),
            (Some(q), b) if b == q => quote = None,
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

/// Whether an element's attributes hide its content from a reader.
fn is_hidden(attrs: &str) -> bool {
    // Most tags carry neither a style nor a hidden attribute: answer those without copying.
    let lower_has = |needle: &[u8]| {
        attrs
            .as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    };
    if attrs.len() < 6 || !(lower_has(b"style") || lower_has(b"hidden")) {
        return false;
    }
    let lower = attrs.to_ascii_lowercase();
    if lower
        .split(|c: char| c.is_whitespace() || c == '/')
        .any(|a| a == "hidden" || a.starts_with("hidden="))
    {
        return true;
    }
    let Some(style) = attr_value(&lower, "style") else {
        return false;
    };
    let mut color = None;
    let mut background = None;
    for decl in style.split(';') {
        let Some((prop, value)) = decl.split_once(':') else {
            continue;
        };
        let prop = prop.trim();
        let value = value.trim().trim_end_matches("!important").trim();
        match prop {
            "display" if value == "none" => return true,
            "visibility" if value == "hidden" || value == "collapse" => return true,
            "opacity" if value.parse::<f32>().is_ok_and(|v| v < 0.05) => return true,
            "font-size" | "line-height" | "max-height" | "height"
                if prop == "font-size" && is_zero_size(value) =>
            {
                return true
            }
            "color" => color = Some(canonical_color(value)),
            "background-color" | "background" => background = Some(canonical_color(value)),
            _ => {}
        }
    }
    matches!((color, background), (Some(c), Some(b)) if !c.is_empty() && c == b)
}

fn is_zero_size(value: &str) -> bool {
    let number: String = value
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    number.parse::<f32>().is_ok_and(|n| n < 1.0)
}

fn canonical_color(value: &str) -> String {
    let v = value.split_whitespace().next().unwrap_or("");
    match v {
        "white" | "#fff" | "#ffffff" => "#ffffff".into(),
        "black" | "#000" | "#000000" => "#000000".into(),
        _ if v.len() == 4 && v.starts_with('#') => {
            let mut s = String::from("#");
            for c in v[1..].chars() {
                s.push(c);
                s.push(c);
            }
            s
        }
        _ => v.to_string(),
    }
}

fn attr_value<'a>(attrs: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = attrs;
    while let Some(p) = rest.find(name) {
        let before_ok = p == 0
            || rest[..p]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_whitespace() || c == '"' || c == '\'');
        let after = rest[p + name.len()..].trim_start();
        if before_ok {
            if let Some(v) = after.strip_prefix('=') {
                let v = v.trim_start();
                return Some(match v.chars().next() {
                    Some(q @ ('"' | '\'')) => {
                        let body = &v[1..];
                        body.find(q).map_or(body, |e| &body[..e])
                    }
                    _ => v.split_whitespace().next().unwrap_or(""),
                });
            }
        }
        rest = &rest[p + name.len()..];
    }
    None
}

/// Appends `text` with character references decoded.
pub(crate) fn decode_entities(text: &str, out: &mut String) {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after
            .char_indices()
            .take(12)
            .find(|(_, c)| *c == ';' || !(c.is_ascii_alphanumeric() || *c == '#'))
            .map(|(i, c)| (i, c == ';'));
        let decoded = end.and_then(|(i, semi)| {
            let name = &after[..i];
            entity(name).map(|c| (c, i + usize::from(semi)))
        });
        match decoded {
            Some((c, used)) => {
                out.push(c);
                rest = &after[used..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
}

fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let n = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse::<u32>().ok()?,
        };
        return char::from_u32(n).or(Some('\u{FFFD}'));
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" | "ensp" | "emsp" | "thinsp" => ' ',
        "ndash" => '–',
        "mdash" => '—',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "hellip" => '…',
        "bull" => '•',
        "middot" => '·',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "zwnj" => '\u{200C}',
        "zwj" => '\u{200D}',
        "shy" => '\u{00AD}',
        "eacute" => 'é',
        "aacute" => 'á',
        "iacute" => 'í',
        "oacute" => 'ó',
        "uacute" => 'ú',
        "ntilde" => 'ñ',
        "uuml" => 'ü',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_tags_join_and_blocks_break() {
        let t = to_text("<p>We <b>will</b> find <span>y</span><span>ou</span></p><p>Second</p>");
        assert_eq!(t.text, "\nWe will find you\n\nSecond\n");
    }

    #[test]
    fn entities_script_and_comments() {
        let t = to_text("<head><title>t</title><style>p{}</style></head><!-- x -->a&amp;b &#118;&#x6f;te &bogus; &lt;");
        assert_eq!(t.text, "a&b vote &bogus; <");
    }

    #[test]
    fn hidden_text_is_left_out_and_counted() {
        let t = to_text(
            "vo<span style=\"display:none\">zzz padding</span>te <div style='color:#fff;background-color:white'>secret</div><p hidden>x</p><font style=\"font-size:0px\">tiny</font>",
        );
        assert_eq!(t.text, "vote \n\n");
        assert_eq!(t.hidden_chars, 10 + 6 + 1 + 4);
    }

    #[test]
    fn alt_and_title_text_is_read() {
        let t = to_text("<p>Hello <img src=x alt=\"we will find you\"> <a title='you will hang' href=#>link</a></p>");
        assert!(t.text.contains("we will find you"), "{:?}", t.text);
        assert!(t.text.contains("you will hang"), "{:?}", t.text);
        // An unterminated tag whose attribute ends in a multi-byte character.
        let t = to_text("<a title=\"\u{e9}");
        assert!(t.text.contains('\u{e9}'), "{:?}", t.text);
    }

    #[test]
    fn broken_markup_does_not_lose_text() {
        let t = to_text("a < b and <unclosed attr=\"x");
        assert_eq!(t.text, "a < b and ");
        let t = to_text("</p></div>text<br/>more");
        assert_eq!(t.text, "\n\ntext\nmore");
    }
}
