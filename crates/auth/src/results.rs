//! Authentication-Results (RFC 8601) as OpenDMARC and rspamd users know it.

use crate::{AuthReport, AuthResult};

/// The header value (without the name): `authserv-id; spf=… smtp.mailfrom=…
/// smtp.helo=…; dkim=… header.d=… header.s=… header.b=…; dmarc=… (p=… dis=…)
/// header.from=…; arc=…`, folded with `\n\t` between methods (Postfix's folding).
/// `disposition` is what Palisade did (`none`, `quarantine`, `reject`).
pub fn authentication_results(
    authserv_id: &str,
    report: &AuthReport,
    mail_from: &str,
    helo: &str,
    disposition: &str,
) -> String {
    let mut parts = vec![authserv_id.to_string()];
    if !report.checked {
        parts.push("none".into());
        return parts.join("; ");
    }
    let mut spf = format!("spf={}", report.spf.as_str());
    let from = if mail_from.is_empty() {
        "<>".to_string()
    } else {
        value(mail_from)
    };
    spf.push_str(&format!(" smtp.mailfrom={from}"));
    if !helo.is_empty() {
        spf.push_str(&format!(" smtp.helo={}", value(helo)));
    }
    parts.push(spf);
    if report.dkim_signatures.is_empty() {
        parts.push("dkim=none".into());
    }
    for sig in &report.dkim_signatures {
        let mut d = format!("dkim={}", sig.result.as_str());
        if !sig.domain.is_empty() {
            d.push_str(&format!(" header.d={}", value(&sig.domain)));
        }
        if !sig.selector.is_empty() {
            d.push_str(&format!(" header.s={}", value(&sig.selector)));
        }
        if !sig.b.is_empty() {
            d.push_str(&format!(" header.b={}", value(&sig.b)));
        }
        parts.push(d);
    }
    let mut dmarc = format!("dmarc={}", report.dmarc.as_str());
    if let Some(p) = report.dmarc_policy {
        if report.dmarc != AuthResult::Pass {
            dmarc.push_str(&format!(" (p={} dis={})", p.as_str(), value(disposition)));
        }
    }
    if !report.from_domain.is_empty() {
        dmarc.push_str(&format!(" header.from={}", value(&report.from_domain)));
    }
    parts.push(dmarc);
    parts.push(format!("arc={}", report.arc.as_str()));
    parts.join(";\n\t")
}

/// A property value as RFC 8601 allows it: a token, or a quoted string (with `"` and
/// `\` escaped, controls dropped) when it is not one.
fn value(s: &str) -> String {
    let token = !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(
                    b,
                    b'(' | b')'
                        | b'<'
                        | b'>'
                        | b','
                        | b';'
                        | b':'
                        | b'\\'
                        | b'"'
                        | b'['
                        | b']'
                        | b'?'
                        | b'='
                )
        });
    // `@`, `/` and `.` are fine inside values in practice (OpenDMARC writes them bare).
    if token {
        return s.to_string();
    }
    let mut q = String::from("\"");
    for c in s.chars().filter(|c| !c.is_control()) {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// The authserv-id an Authentication-Results value starts with, lowercased.
///
/// RFC 8601: `[CFWS] authserv-id`, where the id is a `value` (a token or a quoted
/// string) and CFWS is whitespace, folding and comments, which nest and may hold
/// quoted-pairs. `(forged) mx.example; …` names `mx.example`, and so does
/// `"mx.example"; …`. `None` when no id can be read.
pub fn authserv_id_of(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut i = skip_cfws(bytes, 0)?;
    let id = if bytes.get(i) == Some(&b'"') {
        let mut out = Vec::new();
        i += 1;
        loop {
            match bytes.get(i)? {
                b'"' => break,
                b'\\' => {
                    out.push(*bytes.get(i + 1)?);
                    i += 2;
                }
                b'\r' | b'\n' => i += 1,
                &c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    } else {
        let end = bytes[i..]
            .iter()
            .position(|&c| c == b';' || c == b'(' || c == b'"' || c.is_ascii_whitespace())
            .map_or(bytes.len(), |p| i + p);
        String::from_utf8_lossy(&bytes[i..end]).into_owned()
    };
    let id = id.trim().to_ascii_lowercase();
    (!id.is_empty()).then_some(id)
}

/// Skips whitespace and comments from `i`; `None` when a comment never closes.
fn skip_cfws(bytes: &[u8], mut i: usize) -> Option<usize> {
    loop {
        match bytes.get(i) {
            Some(c) if c.is_ascii_whitespace() => i += 1,
            Some(b'(') => {
                let mut depth = 0usize;
                loop {
                    match bytes.get(i)? {
                        b'\\' => i += 2,
                        b'(' => {
                            depth += 1;
                            i += 1;
                        }
                        b')' => {
                            depth -= 1;
                            i += 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => i += 1,
                    }
                }
            }
            _ => return Some(i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DkimSignature, DmarcPolicy};

    #[test]
    fn authserv_id_after_comments_and_quoted() {
        assert_eq!(
            authserv_id_of("mx.county.test; spf=pass").as_deref(),
            Some("mx.county.test")
        );
        assert_eq!(
            authserv_id_of("(forged) MX.County.Test; dmarc=pass").as_deref(),
            Some("mx.county.test")
        );
        assert_eq!(
            authserv_id_of(" \r\n\t(a (nested \\) comment) b)\r\n mx.county.test 1; none")
                .as_deref(),
            Some("mx.county.test")
        );
        assert_eq!(
            authserv_id_of("\"mx.county.test\"; dkim=pass").as_deref(),
            Some("mx.county.test")
        );
        assert_eq!(
            authserv_id_of("mx.county.test(c); none").as_deref(),
            Some("mx.county.test")
        );
        assert_eq!(authserv_id_of("(never closed mx.county.test"), None);
        assert_eq!(authserv_id_of("   "), None);
        assert_eq!(authserv_id_of(""), None);
    }

    #[test]
    fn renders_like_opendmarc() {
        let report = AuthReport {
            checked: true,
            spf: AuthResult::Fail,
            dmarc: AuthResult::Fail,
            dmarc_policy: Some(DmarcPolicy::Reject),
            from_domain: "officialproudboys.test".into(),
            dkim_signatures: vec![DkimSignature {
                result: AuthResult::Fail,
                domain: "x.test".into(),
                selector: "s1".into(),
                b: "AbCdEfGh".into(),
            }],
            ..AuthReport::default()
        };
        let v = authentication_results(
            "mx.county.test",
            &report,
            "info@officialproudboys.test",
            "vps.example",
            "quarantine",
        );
        assert_eq!(
            v,
            "mx.county.test;\n\tspf=fail smtp.mailfrom=info@officialproudboys.test smtp.helo=vps.example;\n\tdkim=fail header.d=x.test header.s=s1 header.b=AbCdEfGh;\n\tdmarc=fail (p=reject dis=quarantine) header.from=officialproudboys.test;\n\tarc=none"
        );
        assert_eq!(value("a b;c"), "\"a b;c\"");
        assert_eq!(
            authserv_id_of(" MX.County.test; spf=pass"),
            Some("mx.county.test".into())
        );
        assert_eq!(
            authserv_id_of("mx.county.test"),
            Some("mx.county.test".into())
        );
    }
}
