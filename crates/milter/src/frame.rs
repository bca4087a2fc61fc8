//! Packet framing: a 4-byte big-endian length, a command byte, then data.

use crate::ProtocolError;

/// The largest packet accepted: 1 MiB. libmilter itself stops at 64 KiB of data, Postfix
/// sends body chunks of at most 64 KiB and cuts headers at 60,000 bytes, so anything bigger
/// is a broken or hostile peer.
pub(crate) const MAX_PACKET: u32 = 1 << 20;

/// The largest chunk of body data a sender should put in one BODY packet.
pub(crate) const MAX_BODY_CHUNK: usize = 65535;

/// One packet, borrowed from the buffer it was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The command or reply byte.
    pub code: u8,
    /// Everything after it.
    pub data: &'a [u8],
}

/// Looks for one complete packet at the start of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed (that is not an error), or the packet and
/// the number of bytes it took. The length is checked before anything else, so a peer
/// announcing a huge packet is refused without waiting for, or allocating, its data.
pub fn decode(buf: &[u8]) -> Result<Option<(Packet<'_>, usize)>, ProtocolError> {
    decode_with_limit(buf, MAX_PACKET)
}

/// [`decode`] with another size limit.
pub(crate) fn decode_with_limit(
    buf: &[u8],
    limit: u32,
) -> Result<Option<(Packet<'_>, usize)>, ProtocolError> {
    let Some((len, rest)) = buf.split_first_chunk::<4>() else {
        return Ok(None);
    };
    let len = u32::from_be_bytes(*len);
    if len == 0 {
        return Err(ProtocolError::EmptyPacket);
    }
    if len > limit {
        return Err(ProtocolError::PacketTooLarge(len, limit));
    }
    let len = len as usize;
    if rest.len() < len {
        return Ok(None);
    }
    let packet = Packet {
        code: rest[0],
        data: &rest[1..len],
    };
    Ok(Some((packet, 4 + len)))
}

/// How many more bytes the packet at the start of `buf` needs, if its header is there:
/// lets a reader reserve space once instead of growing a buffer many times.
pub fn missing(buf: &[u8]) -> Option<usize> {
    let (len, rest) = buf.split_first_chunk::<4>()?;
    let len = u32::from_be_bytes(*len).min(MAX_PACKET) as usize;
    Some(len.saturating_sub(rest.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_is_not_an_error() {
        assert_eq!(decode(&[]), Ok(None));
        assert_eq!(decode(&[0, 0, 0]), Ok(None));
        assert_eq!(decode(&[0, 0, 0, 2, b'B']), Ok(None));
        assert_eq!(missing(&[0, 0, 0, 3, b'B']), Some(2));
    }

    #[test]
    fn zero_and_huge_lengths_are_refused_early() {
        assert_eq!(decode(&[0, 0, 0, 0]), Err(ProtocolError::EmptyPacket));
        assert_eq!(
            decode(&[0xff, 0xff, 0xff, 0xff]),
            Err(ProtocolError::PacketTooLarge(u32::MAX, MAX_PACKET))
        );
        assert!(decode(&(MAX_PACKET + 1).to_be_bytes()).is_err());
    }

    #[test]
    fn one_packet_among_several() {
        let buf = [0, 0, 0, 1, b'N', 0, 0, 0, 2, b'H', 0];
        let (p, used) = decode(&buf).unwrap().unwrap();
        assert_eq!((p.code, p.data, used), (b'N', &[][..], 5));
        let (p, used) = decode(&buf[5..]).unwrap().unwrap();
        assert_eq!((p.code, p.data, used), (b'H', &[0][..], 6));
    }
}
