//! Packets from the MTA to the milter.

use crate::negotiate::OptNeg;
use crate::wire::{packet, put_cstr, Reader};
use crate::{Actions, Protocol, ProtocolError};

/// The address family of the SMTP client, as CONNECT reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `U`: unknown; no port or address follow.
    Unknown,
    /// `L`: a local (unix-domain) socket.
    Unix,
    /// `4`: IPv4.
    Inet,
    /// `6`: IPv6.
    Inet6,
}

impl Family {
    fn code(self) -> u8 {
        match self {
            Family::Unknown => b'U',
            Family::Unix => b'L',
            Family::Inet => b'4',
            Family::Inet6 => b'6',
        }
    }
}

/// One packet from the MTA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `O`: option negotiation; opens every connection.
    OptNeg(OptNeg),
    /// `D`: macros for the event named by `stage` (a command byte such as `C` or `M`).
    Macro {
        /// The command byte of the event these macros belong to.
        stage: u8,
        /// Name and value pairs, names as the MTA sends them (`j`, `{daemon_name}`).
        pairs: Vec<(Vec<u8>, Vec<u8>)>,
    },
    /// `C`: a client connected.
    Connect {
        /// The client's host name (or its address in brackets).
        hostname: Vec<u8>,
        /// Its address family.
        family: Family,
        /// Its port (0 for unix sockets and unknown families).
        port: u16,
        /// Its address (a socket path for unix sockets).
        address: Vec<u8>,
    },
    /// `H`: HELO or EHLO, with the name the client gave.
    Helo(Vec<u8>),
    /// `M`: MAIL FROM: the address in angle brackets, then ESMTP arguments.
    Mail(Vec<Vec<u8>>),
    /// `R`: RCPT TO: the address in angle brackets, then ESMTP arguments.
    Rcpt(Vec<Vec<u8>>),
    /// `T`: DATA.
    Data,
    /// `L`: one header.
    Header {
        /// Its name.
        name: Vec<u8>,
        /// Its value, folded lines joined by `\n` plus whitespace.
        value: Vec<u8>,
    },
    /// `N`: end of headers.
    EndOfHeaders,
    /// `B`: a chunk of the body (CRLF line ends, split anywhere).
    Body(Vec<u8>),
    /// `E`: end of message; may carry a last body chunk (Postfix sends none).
    EndOfMessage(Vec<u8>),
    /// `U`: an SMTP command the MTA did not recognise.
    Unknown(Vec<u8>),
    /// `A`: forget the current message (Postfix sends it after every message).
    Abort,
    /// `Q`: close the connection.
    Quit,
    /// `K`: close, but a new connection follows.
    QuitNewConnection,
}

impl Command {
    /// The command's name, for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Command::OptNeg(_) => "OPTNEG",
            Command::Macro { .. } => "MACRO",
            Command::Connect { .. } => "CONNECT",
            Command::Helo(_) => "HELO",
            Command::Mail(_) => "MAIL",
            Command::Rcpt(_) => "RCPT",
            Command::Data => "DATA",
            Command::Header { .. } => "HEADER",
            Command::EndOfHeaders => "EOH",
            Command::Body(_) => "BODY",
            Command::EndOfMessage(_) => "EOM",
            Command::Unknown(_) => "UNKNOWN",
            Command::Abort => "ABORT",
            Command::Quit => "QUIT",
            Command::QuitNewConnection => "QUIT_NC",
        }
    }

    /// The command byte.
    pub fn code(&self) -> u8 {
        match self {
            Command::OptNeg(_) => b'O',
            Command::Macro { .. } => b'D',
            Command::Connect { .. } => b'C',
            Command::Helo(_) => b'H',
            Command::Mail(_) => b'M',
            Command::Rcpt(_) => b'R',
            Command::Data => b'T',
            Command::Header { .. } => b'L',
            Command::EndOfHeaders => b'N',
            Command::Body(_) => b'B',
            Command::EndOfMessage(_) => b'E',
            Command::Unknown(_) => b'U',
            Command::Abort => b'A',
            Command::Quit => b'Q',
            Command::QuitNewConnection => b'K',
        }
    }

    /// Parses one packet's data. Commands without data ignore stray trailing bytes, as
    /// libmilter does; everything else must be well formed.
    pub fn parse(code: u8, data: &[u8]) -> Result<Command, ProtocolError> {
        Ok(match code {
            b'O' => {
                let mut r = Reader::new(data, "OPTNEG");
                let version = r.u32()?;
                let actions = Actions(r.u32()?);
                let protocol = Protocol(r.u32()?);
                // Newer MTAs may append fields; they are ignored.
                Command::OptNeg(OptNeg {
                    version,
                    actions,
                    protocol,
                })
            }
            b'D' => {
                let mut r = Reader::new(data, "MACRO");
                let stage = r.byte()?;
                let mut strings = r.cstrs()?.into_iter();
                let mut pairs = Vec::new();
                while let Some(name) = strings.next() {
                    // A name without a value gets an empty one rather than failing the
                    // connection: nothing depends on it.
                    let value = strings.next().unwrap_or_default();
                    pairs.push((name, value));
                }
                Command::Macro { stage, pairs }
            }
            b'C' => {
                let mut r = Reader::new(data, "CONNECT");
                let hostname = r.cstr()?.to_vec();
                let family = match r.byte()? {
                    b'U' => Family::Unknown,
                    b'L' => Family::Unix,
                    b'4' => Family::Inet,
                    b'6' => Family::Inet6,
                    _ => {
                        return Err(ProtocolError::Malformed {
                            what: "CONNECT",
                            why: "unknown address family",
                        })
                    }
                };
                let (port, address) = if family == Family::Unknown {
                    (0, Vec::new())
                } else {
                    (r.u16()?, r.cstr()?.to_vec())
                };
                r.finish()?;
                Command::Connect {
                    hostname,
                    family,
                    port,
                    address,
                }
            }
            b'H' => {
                let mut r = Reader::new(data, "HELO");
                let name = r.cstr()?.to_vec();
                r.finish()?;
                Command::Helo(name)
            }
            b'M' => Command::Mail(Reader::new(data, "MAIL").cstrs()?),
            b'R' => Command::Rcpt(Reader::new(data, "RCPT").cstrs()?),
            b'T' => Command::Data,
            b'L' => {
                let mut r = Reader::new(data, "HEADER");
                let name = r.cstr()?.to_vec();
                let value = r.cstr()?.to_vec();
                r.finish()?;
                Command::Header { name, value }
            }
            b'N' => Command::EndOfHeaders,
            b'B' => Command::Body(data.to_vec()),
            b'E' => Command::EndOfMessage(data.to_vec()),
            b'U' => {
                let mut r = Reader::new(data, "UNKNOWN");
                let line = if r.is_empty() {
                    Vec::new()
                } else {
                    r.cstr()?.to_vec()
                };
                r.finish()?;
                Command::Unknown(line)
            }
            b'A' => Command::Abort,
            b'Q' => Command::Quit,
            b'K' => Command::QuitNewConnection,
            other => return Err(ProtocolError::UnknownCommand(other)),
        })
    }

    /// Appends the packet, length included, to `out`.
    ///
    /// Strings are written NUL-terminated; a NUL inside one cannot be represented and is
    /// dropped.
    pub fn encode(&self, out: &mut Vec<u8>) {
        packet(out, self.code(), |out| match self {
            Command::OptNeg(o) => {
                out.extend_from_slice(&o.version.to_be_bytes());
                out.extend_from_slice(&o.actions.bits().to_be_bytes());
                out.extend_from_slice(&o.protocol.bits().to_be_bytes());
            }
            Command::Macro { stage, pairs } => {
                out.push(*stage);
                for (name, value) in pairs {
                    put_cstr(out, name);
                    put_cstr(out, value);
                }
            }
            Command::Connect {
                hostname,
                family,
                port,
                address,
            } => {
                put_cstr(out, hostname);
                out.push(family.code());
                if *family != Family::Unknown {
                    out.extend_from_slice(&port.to_be_bytes());
                    put_cstr(out, address);
                }
            }
            Command::Helo(name) => put_cstr(out, name),
            Command::Mail(args) | Command::Rcpt(args) => {
                for arg in args {
                    put_cstr(out, arg);
                }
            }
            Command::Header { name, value } => {
                put_cstr(out, name);
                put_cstr(out, value);
            }
            Command::Body(data) | Command::EndOfMessage(data) => out.extend_from_slice(data),
            Command::Unknown(line) => put_cstr(out, line),
            Command::Data
            | Command::EndOfHeaders
            | Command::Abort
            | Command::Quit
            | Command::QuitNewConnection => {}
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame;

    fn roundtrip(cmd: Command) {
        let mut wire = Vec::new();
        cmd.encode(&mut wire);
        let (p, used) = frame::decode(&wire).unwrap().unwrap();
        assert_eq!(used, wire.len());
        assert_eq!(Command::parse(p.code, p.data).unwrap(), cmd);
    }

    #[test]
    fn connect_as_postfix_sends_it() {
        // Captured from Postfix 3.7: host name, family, port, address.
        let data = b"localhost\x004\x9c\x40127.0.0.1\x00";
        let cmd = Command::parse(b'C', data).unwrap();
        assert_eq!(
            cmd,
            Command::Connect {
                hostname: b"localhost".to_vec(),
                family: Family::Inet,
                port: 40000,
                address: b"127.0.0.1".to_vec()
            }
        );
        roundtrip(cmd);
    }

    #[test]
    fn unknown_family_has_no_address() {
        roundtrip(Command::Connect {
            hostname: b"unknown".to_vec(),
            family: Family::Unknown,
            port: 0,
            address: Vec::new(),
        });
        assert!(Command::parse(b'C', b"h\0X").is_err());
    }

    #[test]
    fn macros_with_odd_strings_get_an_empty_value() {
        let cmd = Command::parse(b'D', b"Mi\0ABC\0{auth_type}\0").unwrap();
        assert_eq!(
            cmd,
            Command::Macro {
                stage: b'M',
                pairs: vec![
                    (b"i".to_vec(), b"ABC".to_vec()),
                    (b"{auth_type}".to_vec(), Vec::new())
                ]
            }
        );
    }

    #[test]
    fn malformed_packets_are_errors_not_panics() {
        assert!(Command::parse(b'O', &[0, 0, 0, 6, 0]).is_err());
        assert!(Command::parse(b'L', b"Subject\0no terminator").is_err());
        assert!(Command::parse(b'H', b"no terminator").is_err());
        assert!(Command::parse(b'D', b"").is_err());
        assert_eq!(
            Command::parse(b'Z', b""),
            Err(ProtocolError::UnknownCommand(b'Z'))
        );
    }
}
