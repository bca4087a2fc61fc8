//! Small readers and writers for the field types packets are made of.

use crate::ProtocolError;

/// A cursor over one packet's data.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8], what: &'static str) -> Self {
        Self { data, what }
    }

    fn malformed(&self, why: &'static str) -> ProtocolError {
        ProtocolError::Malformed {
            what: self.what,
            why,
        }
    }

    pub(crate) fn u32(&mut self) -> Result<u32, ProtocolError> {
        match self.data.split_first_chunk::<4>() {
            Some((head, rest)) => {
                self.data = rest;
                Ok(u32::from_be_bytes(*head))
            }
            None => Err(self.malformed("truncated 32-bit field")),
        }
    }

    pub(crate) fn u16(&mut self) -> Result<u16, ProtocolError> {
        match self.data.split_first_chunk::<2>() {
            Some((head, rest)) => {
                self.data = rest;
                Ok(u16::from_be_bytes(*head))
            }
            None => Err(self.malformed("truncated 16-bit field")),
        }
    }

    pub(crate) fn byte(&mut self) -> Result<u8, ProtocolError> {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                Ok(*b)
            }
            None => Err(self.malformed("truncated byte field")),
        }
    }

    /// A NUL-terminated string, without its NUL.
    pub(crate) fn cstr(&mut self) -> Result<&'a [u8], ProtocolError> {
        match self.data.iter().position(|&b| b == 0) {
            Some(end) => {
                let s = &self.data[..end];
                self.data = &self.data[end + 1..];
                Ok(s)
            }
            None => Err(self.malformed("string without terminating NUL")),
        }
    }

    /// NUL-terminated strings up to the end of the packet.
    pub(crate) fn cstrs(&mut self) -> Result<Vec<Vec<u8>>, ProtocolError> {
        let mut out = Vec::new();
        while !self.data.is_empty() {
            out.push(self.cstr()?.to_vec());
        }
        Ok(out)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub(crate) fn finish(&self) -> Result<(), ProtocolError> {
        if self.data.is_empty() {
            Ok(())
        } else {
            Err(self.malformed("trailing bytes"))
        }
    }
}

/// Writes one packet: length, code, then whatever `body` appends.
pub(crate) fn packet(out: &mut Vec<u8>, code: u8, body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0, 0, 0, 0, code]);
    body(out);
    // Packets we build are far below 4 GiB: every field is bounded by what we were given.
    let len = u32::try_from(out.len() - start - 4).unwrap_or(u32::MAX);
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

/// Appends `s` and a NUL. A NUL inside `s` would split the field, so it is dropped.
pub(crate) fn put_cstr(out: &mut Vec<u8>, s: &[u8]) {
    out.extend(s.iter().copied().filter(|&b| b != 0));
    out.push(0);
}
