//! Bit sets exchanged during option negotiation, and the stages macros belong to.

use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign};

macro_rules! bitset {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $flag:ident = $value:expr,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub u32);

        impl $name {
            $($(#[$fdoc])* pub const $flag: Self = Self($value);)*
            /// No flag set.
            pub const NONE: Self = Self(0);

            /// Whether every flag of `other` is set here.
            pub fn contains(self, other: Self) -> bool {
                self.0 & other.0 == other.0
            }

            /// The raw bits.
            pub fn bits(self) -> u32 {
                self.0
            }
        }

        impl BitOr for $name {
            type Output = Self;
            fn bitor(self, rhs: Self) -> Self {
                Self(self.0 | rhs.0)
            }
        }

        impl BitOrAssign for $name {
            fn bitor_assign(&mut self, rhs: Self) {
                self.0 |= rhs.0;
            }
        }

        impl BitAnd for $name {
            type Output = Self;
            fn bitand(self, rhs: Self) -> Self {
                Self(self.0 & rhs.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut first = true;
                write!(f, "{}(", stringify!($name))?;
                $(if self.0 & $value != 0 {
                    if !first { f.write_str("|")?; }
                    first = false;
                    f.write_str(stringify!($flag))?;
                })*
                let known = 0 $(| $value)*;
                if self.0 & !known != 0 {
                    if !first { f.write_str("|")?; }
                    write!(f, "0x{:x}", self.0 & !known)?;
                }
                f.write_str(")")
            }
        }
    };
}

bitset! {
    /// What a milter may do to a message (SMFIF_*).
    Actions {
        /// Add headers (also insert them at an index).
        ADD_HEADERS = 0x01,
        /// Replace the body.
        CHANGE_BODY = 0x02,
        /// Add recipients.
        ADD_RCPT = 0x04,
        /// Delete recipients.
        DELETE_RCPT = 0x08,
        /// Change or delete headers.
        CHANGE_HEADERS = 0x10,
        /// Quarantine the message (Postfix: hold queue).
        QUARANTINE = 0x20,
        /// Change the envelope sender.
        CHANGE_FROM = 0x40,
        /// Add recipients with ESMTP arguments.
        ADD_RCPT_PARAMS = 0x80,
        /// Send macro lists in the negotiation reply.
        SET_SYMBOL_LIST = 0x100,
    }
}

bitset! {
    /// Which events the MTA sends and which it expects no reply to (SMFIP_*).
    Protocol {
        /// No CONNECT event.
        NO_CONNECT = 0x1,
        /// No HELO event.
        NO_HELO = 0x2,
        /// No MAIL event.
        NO_MAIL = 0x4,
        /// No RCPT event.
        NO_RCPT = 0x8,
        /// No BODY events.
        NO_BODY = 0x10,
        /// No HEADER events.
        NO_HEADERS = 0x20,
        /// No EOH event.
        NO_EOH = 0x40,
        /// No reply to HEADER.
        NR_HEADER = 0x80,
        /// No UNKNOWN event.
        NO_UNKNOWN = 0x100,
        /// No DATA event.
        NO_DATA = 0x200,
        /// The MTA understands SKIP replies to BODY.
        SKIP = 0x400,
        /// Also send recipients the MTA rejected.
        RCPT_REJECTED = 0x800,
        /// No reply to CONNECT.
        NR_CONNECT = 0x1000,
        /// No reply to HELO.
        NR_HELO = 0x2000,
        /// No reply to MAIL.
        NR_MAIL = 0x4000,
        /// No reply to RCPT.
        NR_RCPT = 0x8000,
        /// No reply to DATA.
        NR_DATA = 0x10000,
        /// No reply to UNKNOWN.
        NR_UNKNOWN = 0x20000,
        /// No reply to EOH.
        NR_EOH = 0x40000,
        /// No reply to BODY.
        NR_BODY = 0x80000,
        /// Header values arrive with their leading space, and are sent as given.
        HEADER_LEADING_SPACE = 0x100000,
    }
}

/// The protocol stage a macro list or MACRO packet belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// CONNECT (0).
    Connect = 0,
    /// HELO (1).
    Helo = 1,
    /// MAIL FROM (2).
    Mail = 2,
    /// RCPT TO (3).
    Rcpt = 3,
    /// DATA (4).
    Data = 4,
    /// End of message (5).
    EndOfMessage = 5,
    /// End of headers (6).
    EndOfHeaders = 6,
}

impl Stage {
    /// Every stage, in protocol order.
    pub const ALL: [Stage; 7] = [
        Stage::Connect,
        Stage::Helo,
        Stage::Mail,
        Stage::Rcpt,
        Stage::Data,
        Stage::EndOfHeaders,
        Stage::EndOfMessage,
    ];

    /// The number used in negotiation macro lists (the enum's discriminant).
    pub fn number(self) -> u32 {
        self as u32
    }

    /// The stage a MACRO packet's command byte refers to.
    pub(crate) fn from_command(code: u8) -> Option<Stage> {
        Some(match code {
            b'C' => Stage::Connect,
            b'H' => Stage::Helo,
            b'M' => Stage::Mail,
            b'R' => Stage::Rcpt,
            b'T' => Stage::Data,
            // Header and body macros come after DATA's; keeping them in later slots means
            // an empty MACRO packet before each header cannot wipe the DATA macros.
            b'L' => Stage::EndOfHeaders,
            b'N' => Stage::EndOfHeaders,
            b'B' => Stage::EndOfMessage,
            b'E' => Stage::EndOfMessage,
            _ => return None,
        })
    }

    /// Position in the order in which stages occur within a connection.
    pub(crate) fn order(self) -> usize {
        match self {
            Stage::Connect => 0,
            Stage::Helo => 1,
            Stage::Mail => 2,
            Stage::Rcpt => 3,
            Stage::Data => 4,
            Stage::EndOfHeaders => 5,
            Stage::EndOfMessage => 6,
        }
    }
}
