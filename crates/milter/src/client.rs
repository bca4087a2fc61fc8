//! The MTA side of the protocol, as Postfix speaks it: for tests, for `palisade bench`,
//! and for pointing at any other milter.
//!
//! [`Exchange`] is a small state machine over a list of commands. The caller asks it for
//! the next batch of bytes to write (every command up to and including the next one that
//! waits for a reply, so no-reply events are pipelined the way Postfix sends them), writes
//! it, and feeds back each reply it reads.

use std::collections::VecDeque;

use crate::frame::MAX_BODY_CHUNK;
use crate::negotiate::{Negotiated, OptNeg};
use crate::{Actions, Command, Family, Protocol, ProtocolError, Reply};

/// What Postfix 3.7 offers: version 6, every action, every protocol flag.
pub fn postfix_offer() -> OptNeg {
    OptNeg {
        version: 6,
        actions: Actions(0x1ff),
        protocol: Protocol(0x1f_ffff),
    }
}

/// Postfix's offer without SMFIP_NR_BODY: an MTA that waits for the milter's reply to
/// every body chunk. A client that sends a message up to its body then knows, once the
/// body is answered, that the milter has read everything before it (under Postfix's own
/// offer nothing before end of message is answered).
pub fn offer_waiting_for_body() -> OptNeg {
    let mut offer = postfix_offer();
    offer.protocol = Protocol(offer.protocol.0 & !Protocol::NR_BODY.0);
    offer
}

/// Reads the milter's answer to our offer; refuses what Postfix would refuse.
pub fn accept_negotiation(offer: &OptNeg, reply: &Reply) -> Result<Negotiated, ProtocolError> {
    let Reply::OptNeg { options, .. } = reply else {
        return Err(ProtocolError::UnexpectedCommand {
            command: "non-OPTNEG reply",
            state: "to option negotiation",
        });
    };
    if options.version > offer.version || options.version < 2 {
        return Err(ProtocolError::UnsupportedVersion(options.version));
    }
    if options.actions.bits() & !offer.actions.bits() != 0 {
        return Err(ProtocolError::Malformed {
            what: "OPTNEG reply",
            why: "asks for actions that were not offered",
        });
    }
    Ok(Negotiated {
        version: options.version,
        actions: options.actions,
        protocol: Protocol(options.protocol.bits() & offer.protocol.bits()),
    })
}

/// Who is connecting, for the CONNECT and HELO events.
#[derive(Debug, Clone)]
pub struct Connection {
    /// Client host name.
    pub hostname: String,
    /// Client address.
    pub address: String,
    /// Client port.
    pub port: u16,
    /// HELO name.
    pub helo: String,
    /// The MTA's own name (`j` macro).
    pub mta_name: String,
}

impl Default for Connection {
    fn default() -> Self {
        Connection {
            hostname: "localhost".into(),
            address: "127.0.0.1".into(),
            port: 40000,
            helo: "client.example.org".into(),
            mta_name: "mx.palisade.test".into(),
        }
    }
}

fn macro_cmd(stage: u8, pairs: &[(&str, &str)]) -> Command {
    Command::Macro {
        stage,
        pairs: pairs
            .iter()
            .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect(),
    }
}

/// The events Postfix sends when a client connects and says HELO.
pub fn connection_commands(c: &Connection) -> Vec<Command> {
    let family = if c.address.contains(':') {
        Family::Inet6
    } else {
        Family::Inet
    };
    vec![
        macro_cmd(
            b'C',
            &[
                ("j", &c.mta_name),
                ("{daemon_name}", "smtpd"),
                ("{client_addr}", &c.address),
                ("{client_name}", &c.hostname),
            ],
        ),
        Command::Connect {
            hostname: c.hostname.as_bytes().to_vec(),
            family,
            port: c.port,
            address: c.address.as_bytes().to_vec(),
        },
        macro_cmd(b'H', &[]),
        Command::Helo(c.helo.as_bytes().to_vec()),
    ]
}

/// The envelope of one message.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// MAIL FROM address, without brackets.
    pub mail_from: String,
    /// RCPT TO addresses, without brackets.
    pub rcpt_to: Vec<String>,
    /// Queue id to announce in the `i` macro.
    pub queue_id: String,
    /// SASL login name to announce in `{auth_authen}`, if any.
    pub auth_user: Option<String>,
}

/// A message split the way Postfix hands it to milters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedMessage {
    /// `(name, value)`; value is what follows the colon, folds as `\n` plus whitespace.
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// The body with CRLF line ends.
    pub body: Vec<u8>,
}

/// Splits an RFC 5322 message (CRLF or LF line ends; a leading mbox `From ` line is
/// dropped) into headers and body. A line in the header section that is not a header
/// ends it, as in Postfix.
pub fn parse_message(raw: &[u8]) -> ParsedMessage {
    let mut rest = raw;
    if rest.starts_with(b"From ") {
        rest = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => &rest[i + 1..],
            None => &[],
        };
    }
    let mut headers: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    loop {
        let (line, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &[][..]),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            rest = next;
            break;
        }
        if matches!(line[0], b' ' | b'\t') {
            if let Some((_, value)) = headers.last_mut() {
                value.push(b'\n');
                value.extend_from_slice(line);
                rest = next;
                continue;
            }
        }
        match line.iter().position(|&b| b == b':') {
            Some(colon) if colon > 0 && line[..colon].iter().all(|&b| b.is_ascii_graphic()) => {
                headers.push((line[..colon].to_vec(), line[colon + 1..].to_vec()));
                rest = next;
            }
            // Not a header: the body starts here.
            _ => break,
        }
    }
    let mut body = Vec::with_capacity(rest.len() + rest.len() / 40);
    let mut prev = 0u8;
    for &b in rest {
        if b == b'\n' && prev != b'\r' {
            body.push(b'\r');
        }
        body.push(b);
        prev = b;
    }
    ParsedMessage { headers, body }
}

/// The events of one message, from MAIL to EOM, with a MACRO before each.
pub fn message_commands(
    env: &Envelope,
    message: &ParsedMessage,
    negotiated: &Negotiated,
) -> Vec<Command> {
    let mut cmds = Vec::with_capacity(message.headers.len() * 2 + 16);
    let mut mail_macros = vec![("{mail_addr}", env.mail_from.as_str())];
    if let Some(user) = &env.auth_user {
        mail_macros.push(("{auth_authen}", user));
        mail_macros.push(("{auth_type}", "PLAIN"));
    }
    cmds.push(macro_cmd(b'M', &mail_macros));
    cmds.push(Command::Mail(vec![
        format!("<{}>", env.mail_from).into_bytes()
    ]));
    for rcpt in &env.rcpt_to {
        cmds.push(macro_cmd(
            b'R',
            &[("i", &env.queue_id), ("{rcpt_addr}", rcpt)],
        ));
        cmds.push(Command::Rcpt(vec![format!("<{rcpt}>").into_bytes()]));
    }
    cmds.push(macro_cmd(b'T', &[("i", &env.queue_id)]));
    cmds.push(Command::Data);
    for (name, value) in &message.headers {
        let value = if negotiated.leading_space() {
            value.clone()
        } else {
            value.strip_prefix(b" ").unwrap_or(value).to_vec()
        };
        cmds.push(macro_cmd(b'L', &[]));
        cmds.push(Command::Header {
            name: name.clone(),
            value,
        });
    }
    cmds.push(macro_cmd(b'N', &[("i", &env.queue_id)]));
    cmds.push(Command::EndOfHeaders);
    for chunk in message.body.chunks(MAX_BODY_CHUNK) {
        cmds.push(macro_cmd(b'B', &[]));
        cmds.push(Command::Body(chunk.to_vec()));
    }
    cmds.push(macro_cmd(b'E', &[("i", &env.queue_id)]));
    cmds.push(Command::EndOfMessage(Vec::new()));
    cmds
}

/// How an exchange ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The reply that ended it: the final reply to EOM, or an earlier reject, accept, …
    pub reply: Reply,
    /// Modifications sent at end of message, in order.
    pub modifications: Vec<Reply>,
    /// The command the ending reply answered.
    pub answered: &'static str,
}

/// What to do after feeding a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Write the next batch and read again.
    Continue,
    /// Keep reading: the milter is not done with this event.
    Read,
    /// The exchange is over.
    Done(Outcome),
}

/// A run of commands sent to a milter, with the replies they get.
#[derive(Debug)]
pub struct Exchange {
    negotiated: Negotiated,
    pending: VecDeque<Command>,
    waiting_for: Option<&'static str>,
    modifications: Vec<Reply>,
}

impl Exchange {
    /// An exchange over `commands` with what was negotiated.
    pub fn new(negotiated: Negotiated, commands: Vec<Command>) -> Exchange {
        Exchange {
            negotiated,
            pending: commands.into(),
            waiting_for: None,
            modifications: Vec::new(),
        }
    }

    /// Appends the next commands to `out`: every event up to and including the first one
    /// the milter must answer, skipping events it asked not to get (their MACRO packets
    /// are still sent, as Postfix does). Returns whether a reply is now awaited; `false`
    /// with nothing written means the exchange completed without a final reply.
    pub fn next_batch(&mut self, out: &mut Vec<u8>) -> bool {
        while let Some(cmd) = self.pending.pop_front() {
            let code = cmd.code();
            if !self.negotiated.sends(code) {
                continue;
            }
            cmd.encode(out);
            if self.negotiated.expects_reply(code) {
                self.waiting_for = Some(cmd.name());
                return true;
            }
        }
        false
    }

    /// Feeds one reply read from the milter.
    pub fn on_reply(&mut self, reply: Reply) -> Result<Progress, ProtocolError> {
        let Some(answered) = self.waiting_for else {
            return Err(ProtocolError::UnexpectedCommand {
                command: "reply",
                state: "when none was awaited",
            });
        };
        let at_eom = answered == "EOM";
        match reply {
            Reply::Progress => Ok(Progress::Read),
            Reply::Continue if !at_eom => {
                self.waiting_for = None;
                Ok(Progress::Continue)
            }
            Reply::Skip if answered == "BODY" => {
                // No more body: drop the remaining BODY packets (and their macros).
                self.pending.retain(|c| {
                    !matches!(c, Command::Body(_) | Command::Macro { stage: b'B', .. })
                });
                self.waiting_for = None;
                Ok(Progress::Continue)
            }
            r if r.is_final() => Ok(Progress::Done(Outcome {
                reply: r,
                modifications: std::mem::take(&mut self.modifications),
                answered,
            })),
            modification if at_eom => {
                self.modifications.push(modification);
                Ok(Progress::Read)
            }
            _ => Err(ProtocolError::Malformed {
                what: "reply",
                why: "a modification outside end of message",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mbox_and_folded_headers() {
        let raw = b"From someone Mon Jan 1\nSubject: hi\n there\nFrom: a@b\n\nline1\nline2\r\n";
        let m = parse_message(raw);
        assert_eq!(
            m.headers,
            vec![
                (b"Subject".to_vec(), b" hi\n there".to_vec()),
                (b"From".to_vec(), b" a@b".to_vec())
            ]
        );
        assert_eq!(m.body, b"line1\r\nline2\r\n".to_vec());
    }

    #[test]
    fn a_non_header_line_starts_the_body() {
        let m = parse_message(b"Subject: x\nthis is not a header\n");
        assert_eq!(m.headers.len(), 1);
        assert_eq!(m.body, b"this is not a header\r\n".to_vec());
    }
}
