use thiserror::Error;

/// Everything that can be wrong with what a peer sent.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A packet announced a length of zero (it must at least hold the command byte).
    #[error("packet length is zero")]
    EmptyPacket,
    /// A packet announced more bytes than we accept; nothing was allocated for it.
    #[error("packet length {0} exceeds the limit of {1} bytes")]
    PacketTooLarge(u32, u32),
    /// The command byte is not one the protocol defines.
    #[error("unknown command code 0x{0:02x}")]
    UnknownCommand(u8),
    /// The reply byte is not one the protocol defines.
    #[error("unknown reply code 0x{0:02x}")]
    UnknownReply(u8),
    /// A packet's data is shorter or longer than its command requires.
    #[error("malformed {what} packet: {why}")]
    Malformed {
        /// Which packet.
        what: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The peer asked for a protocol version we cannot speak.
    #[error("unsupported protocol version {0}")]
    UnsupportedVersion(u32),
    /// A command arrived where the protocol does not allow it.
    #[error("unexpected {command} {state}")]
    UnexpectedCommand {
        /// The command's name.
        command: &'static str,
        /// Where the session was.
        state: &'static str,
    },
}
