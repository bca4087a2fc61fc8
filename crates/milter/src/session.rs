//! One milter connection as the milter sees it: negotiation, many messages, aborts,
//! repeated HELO, macros per stage, and the message collected for scanning.

use crate::macros::Macros;
use crate::negotiate::{negotiate, Negotiated, Wanted};
use crate::{Command, Family, ProtocolError, Reply, Stage};

/// Limits and wishes for a session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// What to ask the MTA for.
    pub wanted: Wanted,
    /// Bytes of a message (headers and body) kept for scanning; past it the rest is
    /// read and dropped (or SKIPped, where the MTA waits for body replies) and the
    /// message is marked truncated.
    pub max_message_size: usize,
    /// Header names (lowercase) that are recorded even past the size cap, so that every
    /// inbound copy of a header the milter owns can still be found and removed.
    pub watched_headers: Vec<String>,
    /// Header fields kept per message (watched ones past the cap included, up to twice
    /// this); past it the message is marked truncated.
    pub max_headers: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            wanted: Wanted::palisade(),
            max_message_size: 10 << 20,
            watched_headers: Vec::new(),
            max_headers: 1000,
        }
    }
}

/// What the envelope and the connection say about a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The client's host name as the MTA resolved it.
    pub client_name: String,
    /// The client's address (IP as text, a socket path, or empty).
    pub client_addr: String,
    /// The client's port.
    pub client_port: u16,
    /// The client's address family.
    pub family: Option<Family>,
    /// The HELO/EHLO name.
    pub helo: String,
    /// MAIL FROM without angle brackets (empty for the null sender).
    pub mail_from: String,
    /// RCPT TO addresses without angle brackets.
    pub rcpt_to: Vec<String>,
    /// The MTA's queue id (`i` macro), when known.
    pub queue_id: Option<String>,
    /// The SASL login name (`{auth_authen}`), when the client authenticated.
    pub auth_user: Option<String>,
    /// The MTA's host name (`j` macro).
    pub mta_name: Option<String>,
}

/// One message as collected from HEADER and BODY events.
#[derive(Debug, Clone, Default)]
pub struct Message {
    /// Envelope and connection facts.
    pub envelope: Envelope,
    /// Headers in order as `(name, value)`; values without the one space after the colon.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The message as RFC 5322 text (CRLF line ends) as far as it was kept.
    pub raw: Vec<u8>,
    /// Bytes of headers and body the MTA sent, kept or not.
    pub size: u64,
    /// Whether `raw` stops short of the whole message.
    pub truncated: bool,
    /// Whether the caller asked not to scan it (trusted sender, for instance).
    pub unscanned: bool,
    /// Whether more watched headers came than could be recorded (so not every inbound
    /// copy can be removed).
    pub watched_overflow: bool,
    /// Whether header fields past `max_headers` were dropped (so a From, a DKIM signature
    /// or a forged Authentication-Results among them was not seen).
    pub headers_capped: bool,
}

/// What the caller must do after handing the session a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing to send.
    Nothing,
    /// Send this reply.
    Reply(Reply),
    /// A client connected ([`Session::envelope`] has its address). When `reply` is true
    /// the MTA waits: answer [`Reply::Continue`] to go on, or [`Reply::Accept`] to leave
    /// this connection alone. When false (`SMFIP_NR_CONN` negotiated) nothing is sent.
    Connect {
        /// Whether the MTA waits for a reply.
        reply: bool,
    },
    /// The message is complete: take it with [`Session::take_message`], then send
    /// modifications and one final reply, all in one write.
    EndOfMessage,
    /// The MTA is done with this connection; close it.
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for OPTNEG.
    Start,
    /// Negotiated; connection-level events.
    Ready,
    /// Inside a message (after MAIL or a first message event).
    InMessage,
    /// Headers are over; body chunks follow.
    InBody,
}

/// The milter side of one connection.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    state: State,
    negotiated: Option<Negotiated>,
    macros: Macros,
    conn: Envelope,
    message: Message,
    completed: Option<Message>,
    messages: u64,
}

impl Session {
    /// A session that has not negotiated yet.
    pub fn new(config: SessionConfig) -> Session {
        Session {
            config,
            state: State::Start,
            negotiated: None,
            macros: Macros::default(),
            conn: Envelope::default(),
            message: Message::default(),
            completed: None,
            messages: 0,
        }
    }

    /// What was negotiated, once it was.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    /// The macros received so far.
    pub fn macros(&self) -> &Macros {
        &self.macros
    }

    /// How many messages reached end of message on this connection.
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// Envelope facts known so far for the current message (or connection).
    pub fn envelope(&self) -> &Envelope {
        &self.message.envelope
    }

    /// Whether a message is under way (between its first event and EOM or ABORT).
    pub fn in_message(&self) -> bool {
        matches!(self.state, State::InMessage | State::InBody)
    }

    /// Asks for the rest of the current message to be skipped: nothing more is kept, and
    /// body chunks are answered with SKIP where the MTA waits for body replies and
    /// allows it (Postfix, with SMFIP_NR_BODY, sends them on unanswered).
    pub fn skip_message(&mut self) {
        self.message.unscanned = true;
    }

    /// Handles one command from the MTA.
    pub fn handle(&mut self, command: Command) -> Result<Step, ProtocolError> {
        if self.state == State::Start {
            let Command::OptNeg(offer) = command else {
                return Err(ProtocolError::UnexpectedCommand {
                    command: command.name(),
                    state: "before option negotiation",
                });
            };
            let (reply, negotiated) = negotiate(&offer, &self.config.wanted)?;
            self.negotiated = Some(negotiated);
            self.state = State::Ready;
            return Ok(Step::Reply(reply));
        }
        let code = command.code();
        let expects_reply = self.negotiated.is_some_and(|n| n.expects_reply(code));
        let continue_if_due = if expects_reply {
            Step::Reply(Reply::Continue)
        } else {
            Step::Nothing
        };
        match command {
            Command::OptNeg(_) => Err(ProtocolError::UnexpectedCommand {
                command: "OPTNEG",
                state: "after negotiation",
            }),
            Command::Macro { stage, pairs } => {
                if let Some(stage) = Stage::from_command(stage) {
                    if stage == Stage::Mail {
                        // A new message may start without an ABORT after the last EOM.
                        self.begin_message();
                    }
                    self.macros.set(stage, &pairs);
                }
                Ok(Step::Nothing)
            }
            Command::Connect {
                hostname,
                family,
                port,
                address,
            } => {
                self.conn = Envelope {
                    client_name: lossy(&hostname),
                    client_addr: lossy(&address),
                    client_port: port,
                    family: Some(family),
                    ..Envelope::default()
                };
                self.message.envelope = self.conn.clone();
                Ok(Step::Connect {
                    reply: expects_reply,
                })
            }
            Command::Helo(name) => {
                // STARTTLS brings a second HELO; it replaces the first.
                self.conn.helo = lossy(&name);
                if !self.in_message() {
                    self.message.envelope.helo = self.conn.helo.clone();
                }
                Ok(continue_if_due)
            }
            Command::Mail(args) => {
                self.begin_message();
                self.state = State::InMessage;
                self.message.envelope.mail_from =
                    args.first().map(|a| strip_brackets(a)).unwrap_or_default();
                Ok(continue_if_due)
            }
            Command::Rcpt(args) => {
                self.ensure_message();
                if let Some(addr) = args.first() {
                    if self.message.envelope.rcpt_to.len() < 10_000 {
                        self.message.envelope.rcpt_to.push(strip_brackets(addr));
                    }
                }
                Ok(continue_if_due)
            }
            Command::Data | Command::Unknown(_) => Ok(continue_if_due),
            Command::Header { name, value } => {
                self.ensure_message();
                self.add_header(&name, &value);
                Ok(continue_if_due)
            }
            Command::EndOfHeaders => {
                self.ensure_message();
                self.end_headers();
                Ok(continue_if_due)
            }
            Command::Body(chunk) => {
                self.ensure_message();
                if self.state != State::InBody {
                    self.end_headers();
                }
                let full = self.add_body(&chunk);
                if !expects_reply {
                    return Ok(Step::Nothing);
                }
                let can_skip = self
                    .negotiated
                    .is_some_and(|n| n.protocol.contains(crate::Protocol::SKIP));
                Ok(Step::Reply(if full && can_skip {
                    Reply::Skip
                } else {
                    Reply::Continue
                }))
            }
            Command::EndOfMessage(chunk) => {
                self.ensure_message();
                if self.state != State::InBody {
                    self.end_headers();
                }
                if !chunk.is_empty() {
                    self.add_body(&chunk);
                }
                let env = &mut self.message.envelope;
                env.queue_id = self.macros.get_nonempty("i").map(str::to_string);
                env.auth_user = self.macros.get_nonempty("auth_authen").map(str::to_string);
                env.mta_name = self.macros.get_nonempty("j").map(str::to_string);
                if env.client_addr.is_empty() {
                    if let Some(addr) = self.macros.get_nonempty("client_addr") {
                        env.client_addr = addr.to_string();
                    }
                }
                self.messages += 1;
                self.completed = Some(std::mem::take(&mut self.message));
                self.begin_message();
                Ok(Step::EndOfMessage)
            }
            Command::Abort => {
                self.macros.clear_from(Stage::Mail);
                self.begin_message();
                Ok(Step::Nothing)
            }
            Command::Quit | Command::QuitNewConnection => Ok(Step::Close),
        }
    }

    /// Hands over the message completed by the last EOM (once).
    pub fn take_message(&mut self) -> Option<Message> {
        self.completed.take()
    }

    /// Header values as the MTA expects them in modifications: with the leading space when
    /// HDR_LEADSPC is in force (the MTA then adds none itself).
    pub fn header_value(&self, value: &str) -> Vec<u8> {
        if self.negotiated.is_some_and(|n| n.leading_space()) {
            let mut v = Vec::with_capacity(value.len() + 1);
            v.push(b' ');
            v.extend_from_slice(value.as_bytes());
            v
        } else {
            value.as_bytes().to_vec()
        }
    }

    fn begin_message(&mut self) {
        self.state = State::Ready;
        self.message = Message {
            envelope: self.conn.clone(),
            ..Message::default()
        };
    }

    /// Message events without a MAIL before them (miltertest, NO_MAIL) still make one.
    fn ensure_message(&mut self) {
        if !self.in_message() {
            self.state = State::InMessage;
        }
    }

    fn room(&self) -> usize {
        self.config
            .max_message_size
            .saturating_sub(self.message.raw.len())
    }

    fn add_header(&mut self, name: &[u8], received: &[u8]) {
        let leading_space = self.negotiated.is_some_and(|n| n.leading_space());
        // With HDR_LEADSPC the MTA sends everything after the colon as it was received;
        // without it, one leading space is gone and ": " is the best guess.
        let (separator, value): (&[u8], &[u8]) = if leading_space {
            (b":", received)
        } else {
            (b": ", received)
        };
        let trimmed = match value {
            [b' ', rest @ ..] if leading_space => rest,
            v => v,
        };
        let name_text = lossy(name);
        self.message.size += (name.len() + separator.len() + value.len() + 2) as u64;
        // Name, separator, the value with bare LF folds turned into CRLF, and CRLF: the
        // field byte for byte, as DKIM's simple canonicalization needs it.
        let needed = name.len() + 4 + value.len() + value.iter().filter(|&&b| b == b'\n').count();
        let kept = self.message.headers.len();
        if !self.message.truncated && needed <= self.room() && kept < self.config.max_headers {
            let raw = &mut self.message.raw;
            raw.extend_from_slice(name);
            raw.extend_from_slice(separator);
            for &b in value {
                if b == b'\n' && raw.last() != Some(&b'\r') {
                    raw.push(b'\r');
                }
                raw.push(b);
            }
            raw.extend_from_slice(b"\r\n");
            self.message.headers.push((name_text, trimmed.to_vec()));
        } else {
            self.message.truncated = true;
            if kept >= self.config.max_headers {
                self.message.headers_capped = true;
            }
            let lower = name_text.to_ascii_lowercase();
            if self.config.watched_headers.contains(&lower) {
                if kept < self.config.max_headers.saturating_mul(2) {
                    self.message.headers.push((name_text, Vec::new()));
                } else {
                    self.message.watched_overflow = true;
                }
            }
        }
    }

    fn end_headers(&mut self) {
        if self.state == State::InBody {
            return;
        }
        self.state = State::InBody;
        if self.room() >= 2 {
            self.message.raw.extend_from_slice(b"\r\n");
        } else {
            self.message.truncated = true;
        }
    }

    /// Keeps what fits; returns whether nothing more is wanted.
    fn add_body(&mut self, chunk: &[u8]) -> bool {
        self.message.size += chunk.len() as u64;
        if self.message.unscanned {
            return true;
        }
        let room = self.room();
        if chunk.len() > room {
            self.message.truncated = true;
        }
        let take = chunk.len().min(room);
        self.message.raw.extend_from_slice(&chunk[..take]);
        self.message.truncated
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn strip_brackets(addr: &[u8]) -> String {
    let s = String::from_utf8_lossy(addr);
    let s = s.trim();
    s.strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(s)
        .to_string()
}
