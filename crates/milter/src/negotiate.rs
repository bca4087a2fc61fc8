//! Option negotiation: which protocol version, actions, events and macros are used.

use crate::{Actions, Protocol, ProtocolError, Reply, Stage};

/// The newest protocol version spoken here (Postfix and sendmail 8.14+ speak 6).
pub(crate) const VERSION: u32 = 6;

/// The three numbers of an OPTNEG packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptNeg {
    /// Protocol version.
    pub version: u32,
    /// Actions offered (MTA) or wanted (milter).
    pub actions: Actions,
    /// Protocol flags offered (MTA) or wanted (milter).
    pub protocol: Protocol,
}

/// What a milter asks for; the MTA's offer limits what it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// Actions the milter may use.
    pub actions: Actions,
    /// Protocol flags the milter would like.
    pub protocol: Protocol,
    /// Macro names to ask for, per stage. They replace the MTA's defaults for that stage.
    pub macros: Vec<(Stage, String)>,
}

impl Wanted {
    /// Palisade's choice: header changes and quarantine only; no DATA event, which it
    /// never reads; no replies to events where it only ever continues (everything but
    /// end of message: CONNECT too, where it only notes a trusted client, and body
    /// chunks, so the MTA streams the body without a round trip per chunk); SKIP, for an
    /// MTA that wants body replies, for bodies it no longer needs; header values
    /// byte-exact; the macros it reads.
    pub fn palisade() -> Wanted {
        Wanted {
            actions: Actions::ADD_HEADERS
                | Actions::CHANGE_HEADERS
                | Actions::QUARANTINE
                | Actions::SET_SYMBOL_LIST,
            protocol: Protocol::NR_CONNECT
                | Protocol::NR_HELO
                | Protocol::NR_MAIL
                | Protocol::NR_RCPT
                | Protocol::NR_DATA
                | Protocol::NR_HEADER
                | Protocol::NR_EOH
                | Protocol::NR_BODY
                | Protocol::NR_UNKNOWN
                | Protocol::NO_UNKNOWN
                | Protocol::NO_DATA
                | Protocol::SKIP
                | Protocol::HEADER_LEADING_SPACE,
            macros: vec![
                (
                    Stage::Connect,
                    "j {daemon_name} {daemon_addr} v _ {client_addr} {client_name} {client_port}"
                        .into(),
                ),
                (
                    Stage::Helo,
                    "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}".into(),
                ),
                (
                    Stage::Mail,
                    "i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}"
                        .into(),
                ),
                (Stage::Rcpt, "i {rcpt_addr} {rcpt_host} {rcpt_mailer}".into()),
                (Stage::Data, "i".into()),
                (Stage::EndOfHeaders, "i".into()),
                (Stage::EndOfMessage, "i".into()),
            ],
        }
    }
}

/// The outcome of negotiation: what both sides agreed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The version both speak.
    pub version: u32,
    /// Actions the milter may use.
    pub actions: Actions,
    /// Protocol flags in force.
    pub protocol: Protocol,
}

impl Negotiated {
    /// Whether the MTA waits for a reply to the command with this code.
    pub(crate) fn expects_reply(&self, code: u8) -> bool {
        let p = self.protocol;
        match code {
            b'O' | b'E' => true,
            b'D' | b'A' | b'Q' | b'K' => false,
            b'C' => !p.contains(Protocol::NR_CONNECT),
            b'H' => !p.contains(Protocol::NR_HELO),
            b'M' => !p.contains(Protocol::NR_MAIL),
            b'R' => !p.contains(Protocol::NR_RCPT),
            b'T' => !p.contains(Protocol::NR_DATA),
            b'L' => !p.contains(Protocol::NR_HEADER),
            b'N' => !p.contains(Protocol::NR_EOH),
            b'B' => !p.contains(Protocol::NR_BODY),
            b'U' => !p.contains(Protocol::NR_UNKNOWN),
            _ => true,
        }
    }

    /// Whether the MTA sends the event with this code at all.
    pub fn sends(&self, code: u8) -> bool {
        let p = self.protocol;
        match code {
            b'C' => !p.contains(Protocol::NO_CONNECT),
            b'H' => !p.contains(Protocol::NO_HELO),
            b'M' => !p.contains(Protocol::NO_MAIL),
            b'R' => !p.contains(Protocol::NO_RCPT),
            b'T' => !p.contains(Protocol::NO_DATA),
            b'L' => !p.contains(Protocol::NO_HEADERS),
            b'N' => !p.contains(Protocol::NO_EOH),
            b'B' => !p.contains(Protocol::NO_BODY),
            b'U' => !p.contains(Protocol::NO_UNKNOWN),
            _ => true,
        }
    }

    /// Whether the milter adds (and the MTA expects) header values with their leading
    /// space.
    pub fn leading_space(&self) -> bool {
        self.protocol.contains(Protocol::HEADER_LEADING_SPACE)
    }
}

/// Answers the MTA's offer: the highest common version, and of what `wanted` asks only
/// what was offered, since Postfix drops a milter that asks for more.
pub fn negotiate(offer: &OptNeg, wanted: &Wanted) -> Result<(Reply, Negotiated), ProtocolError> {
    if offer.version < 2 {
        return Err(ProtocolError::UnsupportedVersion(offer.version));
    }
    let version = offer.version.min(VERSION);
    let actions = wanted.actions & offer.actions;
    let mut protocol = wanted.protocol & offer.protocol;
    if version < 6 {
        // Versions before 6 know neither no-reply flags nor SKIP nor leading spaces.
        protocol = protocol & Protocol(0x7f | 0x200 | 0x100);
    }
    let macros = if actions.contains(Actions::SET_SYMBOL_LIST) && version >= 6 {
        wanted
            .macros
            .iter()
            .map(|(stage, names)| (stage.number(), names.as_bytes().to_vec()))
            .collect()
    } else {
        Vec::new()
    };
    let negotiated = Negotiated {
        version,
        actions,
        protocol,
    };
    let reply = Reply::OptNeg {
        options: OptNeg {
            version,
            actions,
            protocol,
        },
        macros,
    };
    Ok((reply, negotiated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postfix_offer_gets_what_palisade_wants() {
        // Postfix 3.7 offers version 6, every action and every protocol flag.
        let offer = OptNeg {
            version: 6,
            actions: Actions(0x1ff),
            protocol: Protocol(0x1fffff),
        };
        let (reply, n) = negotiate(&offer, &Wanted::palisade()).unwrap();
        assert_eq!(n.version, 6);
        assert!(n
            .actions
            .contains(Actions::QUARANTINE | Actions::CHANGE_HEADERS));
        assert!(!n.actions.contains(Actions::CHANGE_BODY));
        assert!(!n.expects_reply(b'L'));
        // Body chunks stream without a reply; end of message is answered.
        assert!(!n.expects_reply(b'B'));
        assert!(n.expects_reply(b'E'));
        // No DATA event: Palisade reads nothing from it.
        assert!(!n.sends(b'T'));
        assert!(n.sends(b'L') && n.sends(b'B'));
        // Postfix offers SMFIP_NR_CONN: no reply at CONNECT.
        assert!(!n.expects_reply(b'C'));
        assert!(n.leading_space());
        let Reply::OptNeg { macros, .. } = reply else {
            panic!("not an optneg reply")
        };
        assert_eq!(macros.len(), 7);
        assert!(macros
            .iter()
            .any(|(s, m)| *s == 2 && m.windows(13).any(|w| w == b"{auth_authen}")));
    }

    #[test]
    fn never_asks_for_more_than_offered() {
        let offer = OptNeg {
            version: 6,
            actions: Actions::ADD_HEADERS,
            protocol: Protocol::NR_HEADER,
        };
        let (reply, n) = negotiate(&offer, &Wanted::palisade()).unwrap();
        assert_eq!(n.actions, Actions::ADD_HEADERS);
        assert_eq!(n.protocol, Protocol::NR_HEADER);
        // An MTA that cannot skip the reply to CONNECT gets one.
        assert!(n.expects_reply(b'C'));
        // Without SETSYMLIST no macro lists are sent.
        assert!(matches!(reply, Reply::OptNeg { macros, .. } if macros.is_empty()));
    }

    #[test]
    fn older_versions() {
        let offer = OptNeg {
            version: 2,
            actions: Actions(0x3f),
            protocol: Protocol(0x7f),
        };
        let (_, n) = negotiate(&offer, &Wanted::palisade()).unwrap();
        assert_eq!(n.version, 2);
        assert!(n.expects_reply(b'L'));
        let higher = OptNeg {
            version: 9,
            ..offer
        };
        assert_eq!(
            negotiate(&higher, &Wanted::palisade()).unwrap().1.version,
            6
        );
        let ancient = OptNeg {
            version: 1,
            ..offer
        };
        assert!(negotiate(&ancient, &Wanted::palisade()).is_err());
    }
}
