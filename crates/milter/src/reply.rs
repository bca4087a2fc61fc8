//! Packets from the milter to the MTA.

use crate::negotiate::OptNeg;
use crate::wire::{packet, put_cstr, Reader};
use crate::{Actions, Protocol, ProtocolError};

/// One packet from the milter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `O`: the negotiation answer, with optional macro lists per stage.
    OptNeg {
        /// Version, actions and protocol flags the milter wants.
        options: OptNeg,
        /// `(stage number, space-separated macro names)`.
        macros: Vec<(u32, Vec<u8>)>,
    },
    /// `c`: go on.
    Continue,
    /// `a`: accept this message (or connection) without further milter calls.
    Accept,
    /// `r`: reject with the MTA's default 5xx.
    Reject,
    /// `t`: reject with the MTA's default 4xx.
    Tempfail,
    /// `d`: accept and silently drop.
    Discard,
    /// `s`: send no more body chunks.
    Skip,
    /// `p`: still working; resets the MTA's timeout.
    Progress,
    /// `y`: reject with this SMTP reply text (`550 5.7.1 reason`).
    ReplyCode(Vec<u8>),
    /// `q`: quarantine (Postfix: hold queue) with this reason.
    Quarantine(Vec<u8>),
    /// `h`: add a header at the end.
    AddHeader {
        /// Header name.
        name: Vec<u8>,
        /// Header value.
        value: Vec<u8>,
    },
    /// `i`: insert a header at an index (0 = the very top).
    InsertHeader {
        /// Position among the headers.
        index: u32,
        /// Header name.
        name: Vec<u8>,
        /// Header value.
        value: Vec<u8>,
    },
    /// `m`: change the `index`-th (from 1) header of this name; an empty value deletes it.
    ChangeHeader {
        /// Occurrence of this name, counting from 1.
        index: u32,
        /// Header name.
        name: Vec<u8>,
        /// New value, empty to delete.
        value: Vec<u8>,
    },
    /// `+`: add a recipient.
    AddRcpt(Vec<u8>),
    /// `-`: delete a recipient.
    DeleteRcpt(Vec<u8>),
    /// `2`: add a recipient with ESMTP arguments.
    AddRcptParams {
        /// The address.
        address: Vec<u8>,
        /// Its ESMTP arguments.
        args: Vec<u8>,
    },
    /// `e`: change the envelope sender.
    ChangeFrom {
        /// The new address.
        address: Vec<u8>,
        /// ESMTP arguments, if any.
        args: Option<Vec<u8>>,
    },
    /// `b`: replace (a chunk of) the body.
    ReplaceBody(Vec<u8>),
}

impl Reply {
    /// The reply byte.
    pub fn code(&self) -> u8 {
        match self {
            Reply::OptNeg { .. } => b'O',
            Reply::Continue => b'c',
            Reply::Accept => b'a',
            Reply::Reject => b'r',
            Reply::Tempfail => b't',
            Reply::Discard => b'd',
            Reply::Skip => b's',
            Reply::Progress => b'p',
            Reply::ReplyCode(_) => b'y',
            Reply::Quarantine(_) => b'q',
            Reply::AddHeader { .. } => b'h',
            Reply::InsertHeader { .. } => b'i',
            Reply::ChangeHeader { .. } => b'm',
            Reply::AddRcpt(_) => b'+',
            Reply::DeleteRcpt(_) => b'-',
            Reply::AddRcptParams { .. } => b'2',
            Reply::ChangeFrom { .. } => b'e',
            Reply::ReplaceBody(_) => b'b',
        }
    }

    /// The reply's name, for logs and bench reports.
    pub fn name(&self) -> &'static str {
        match self {
            Reply::OptNeg { .. } => "optneg",
            Reply::Continue => "continue",
            Reply::Accept => "accept",
            Reply::Reject => "reject",
            Reply::Tempfail => "tempfail",
            Reply::Discard => "discard",
            Reply::Skip => "skip",
            Reply::Progress => "progress",
            Reply::ReplyCode(text) => match text.first() {
                Some(b'4') => "replycode_4xx",
                _ => "replycode_5xx",
            },
            Reply::Quarantine(_) => "quarantine",
            Reply::AddHeader { .. } => "add_header",
            Reply::InsertHeader { .. } => "insert_header",
            Reply::ChangeHeader { .. } => "change_header",
            Reply::AddRcpt(_) => "add_rcpt",
            Reply::DeleteRcpt(_) => "delete_rcpt",
            Reply::AddRcptParams { .. } => "add_rcpt_params",
            Reply::ChangeFrom { .. } => "change_from",
            Reply::ReplaceBody(_) => "replace_body",
        }
    }

    /// Whether this reply ends the MTA's wait for an answer to an event. Modifications and
    /// PROGRESS at end of message are followed by one such reply.
    pub(crate) fn is_final(&self) -> bool {
        matches!(
            self,
            Reply::OptNeg { .. }
                | Reply::Continue
                | Reply::Accept
                | Reply::Reject
                | Reply::Tempfail
                | Reply::Discard
                | Reply::Skip
                | Reply::ReplyCode(_)
        )
    }

    /// Parses one packet's data.
    pub fn parse(code: u8, data: &[u8]) -> Result<Reply, ProtocolError> {
        let no_data = |reply: Reply| Ok(reply);
        match code {
            b'O' => {
                let mut r = Reader::new(data, "OPTNEG reply");
                let options = OptNeg {
                    version: r.u32()?,
                    actions: Actions(r.u32()?),
                    protocol: Protocol(r.u32()?),
                };
                let mut macros = Vec::new();
                while !r.is_empty() {
                    let stage = r.u32()?;
                    macros.push((stage, r.cstr()?.to_vec()));
                }
                Ok(Reply::OptNeg { options, macros })
            }
            b'c' => no_data(Reply::Continue),
            b'a' => no_data(Reply::Accept),
            b'r' => no_data(Reply::Reject),
            b't' => no_data(Reply::Tempfail),
            b'd' => no_data(Reply::Discard),
            b's' => no_data(Reply::Skip),
            b'p' => no_data(Reply::Progress),
            b'y' => one_string(data, "REPLYCODE").map(Reply::ReplyCode),
            b'q' => one_string(data, "QUARANTINE").map(Reply::Quarantine),
            b'+' => one_string(data, "ADDRCPT").map(Reply::AddRcpt),
            b'-' => one_string(data, "DELRCPT").map(Reply::DeleteRcpt),
            b'h' => {
                let mut r = Reader::new(data, "ADDHEADER");
                let name = r.cstr()?.to_vec();
                let value = r.cstr()?.to_vec();
                r.finish()?;
                Ok(Reply::AddHeader { name, value })
            }
            b'i' | b'm' => {
                let what = if code == b'i' {
                    "INSHEADER"
                } else {
                    "CHGHEADER"
                };
                let mut r = Reader::new(data, what);
                let index = r.u32()?;
                let name = r.cstr()?.to_vec();
                let value = r.cstr()?.to_vec();
                r.finish()?;
                Ok(if code == b'i' {
                    Reply::InsertHeader { index, name, value }
                } else {
                    Reply::ChangeHeader { index, name, value }
                })
            }
            b'2' => {
                let mut r = Reader::new(data, "ADDRCPT_PAR");
                let address = r.cstr()?.to_vec();
                let args = r.cstr()?.to_vec();
                r.finish()?;
                Ok(Reply::AddRcptParams { address, args })
            }
            b'e' => {
                let mut r = Reader::new(data, "CHGFROM");
                let address = r.cstr()?.to_vec();
                let args = if r.is_empty() {
                    None
                } else {
                    Some(r.cstr()?.to_vec())
                };
                r.finish()?;
                Ok(Reply::ChangeFrom { address, args })
            }
            b'b' => Ok(Reply::ReplaceBody(data.to_vec())),
            other => Err(ProtocolError::UnknownReply(other)),
        }
    }

    /// Appends the packet, length included, to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        packet(out, self.code(), |out| match self {
            Reply::OptNeg { options, macros } => {
                out.extend_from_slice(&options.version.to_be_bytes());
                out.extend_from_slice(&options.actions.bits().to_be_bytes());
                out.extend_from_slice(&options.protocol.bits().to_be_bytes());
                for (stage, names) in macros {
                    out.extend_from_slice(&stage.to_be_bytes());
                    put_cstr(out, names);
                }
            }
            Reply::Continue
            | Reply::Accept
            | Reply::Reject
            | Reply::Tempfail
            | Reply::Discard
            | Reply::Skip
            | Reply::Progress => {}
            Reply::ReplyCode(s)
            | Reply::Quarantine(s)
            | Reply::AddRcpt(s)
            | Reply::DeleteRcpt(s) => put_cstr(out, s),
            Reply::AddHeader { name, value } => {
                put_cstr(out, name);
                put_cstr(out, value);
            }
            Reply::InsertHeader { index, name, value }
            | Reply::ChangeHeader { index, name, value } => {
                out.extend_from_slice(&index.to_be_bytes());
                put_cstr(out, name);
                put_cstr(out, value);
            }
            Reply::AddRcptParams { address, args } => {
                put_cstr(out, address);
                put_cstr(out, args);
            }
            Reply::ChangeFrom { address, args } => {
                put_cstr(out, address);
                if let Some(args) = args {
                    put_cstr(out, args);
                }
            }
            Reply::ReplaceBody(data) => out.extend_from_slice(data),
        })
    }
}

fn one_string(data: &[u8], what: &'static str) -> Result<Vec<u8>, ProtocolError> {
    let mut r = Reader::new(data, what);
    let s = r.cstr()?.to_vec();
    r.finish()?;
    Ok(s)
}

/// Builds the text of a REPLYCODE reply that Postfix accepts: a 4xx or 5xx code, an
/// enhanced status code of the same class, and a reason with no line breaks, control
/// characters or `%` (Postfix would read those as format directives), cut to fit one line.
///
/// Returns `None` when `code` is not a 4xx/5xx code or `enhanced` does not match its class.
pub fn reply_text(code: u16, enhanced: &str, reason: &str) -> Option<Vec<u8>> {
    if !(400..600).contains(&code) {
        return None;
    }
    let class = (code / 100).to_string();
    let mut parts = enhanced.split('.');
    let valid_enhanced = parts.next() == Some(class.as_str())
        && parts.clone().count() == 2
        && parts.all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()));
    if !valid_enhanced {
        return None;
    }
    let mut text = format!("{code} {enhanced} ");
    for c in reason.chars() {
        if text.len() >= 900 {
            break;
        }
        match c {
            '%' => text.push_str("%%"),
            c if c.is_control() => text.push(' '),
            c if c.is_ascii() => text.push(c),
            _ => text.push('?'),
        }
    }
    Some(text.trim_end().as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_text_is_safe() {
        let t = reply_text(550, "5.7.1", "threat\r\n250 ok 100% é").unwrap();
        assert_eq!(t, b"550 5.7.1 threat  250 ok 100%% ?".to_vec());
        assert_eq!(reply_text(550, "4.7.1", "x"), None);
        assert_eq!(reply_text(250, "2.0.0", "x"), None);
        assert_eq!(reply_text(451, "4.7", "x"), None);
        assert!(reply_text(451, "4.7.1", &"x".repeat(5000)).unwrap().len() <= 910);
    }

    #[test]
    fn change_from_with_and_without_args() {
        for reply in [
            Reply::ChangeFrom {
                address: b"<a@b>".to_vec(),
                args: None,
            },
            Reply::ChangeFrom {
                address: b"<a@b>".to_vec(),
                args: Some(b"SIZE=10".to_vec()),
            },
        ] {
            let mut wire = Vec::new();
            reply.encode(&mut wire);
            let (p, _) = crate::frame::decode(&wire).unwrap().unwrap();
            assert_eq!(Reply::parse(p.code, p.data).unwrap(), reply);
        }
    }
}
