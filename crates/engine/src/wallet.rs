//! Cryptocurrency payment addresses, found by their format and checksum rather than by
//! the word "bitcoin" (which extortion mail disguises with look-alike letters).
//!
//! Bitcoin legacy and script addresses (Base58Check, version 0x00 or 0x05), Bitcoin
//! SegWit and Taproot addresses (bech32/bech32m, `bc1…`), and Ethereum addresses (`0x` and
//! 40 hex digits). Checked in one pass over the text's alphanumeric runs.

/// A payment address found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wallet {
    /// What kind of address.
    pub kind: &'static str,
    /// Byte offset in the text.
    pub at: usize,
    /// The address.
    pub address: String,
}

/// Addresses reported per text at most.
const MAX: usize = 8;

/// Every payment address in `text`.
pub fn find(text: &str) -> Vec<Wallet> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() && out.len() < MAX {
        if !bytes[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
            i += 1;
        }
        let token = &text[start..i];
        if let Some(kind) = classify(token) {
            out.push(Wallet {
                kind,
                at: start,
                address: token.to_string(),
            });
        }
    }
    out
}

fn classify(token: &str) -> Option<&'static str> {
    let len = token.len();
    if (26..=35).contains(&len) && (token.starts_with('1') || token.starts_with('3')) {
        let decoded = bs58::decode(token).with_check(None).into_vec().ok()?;
        return matches!(decoded.first(), Some(0x00 | 0x05))
            .then_some("bitcoin")
            .filter(|_| decoded.len() == 21);
    }
    if (14..=90).contains(&len)
        && token
            .get(..3)
            .is_some_and(|p| p.eq_ignore_ascii_case("bc1"))
    {
        let lower = token.to_ascii_lowercase();
        // Mixed case is not valid bech32.
        if token != lower && token != token.to_ascii_uppercase() {
            return None;
        }
        let (hrp, _, _) = bech32::segwit::decode(&lower).ok()?;
        return (hrp == bech32::hrp::BC).then_some("bitcoin");
    }
    if len == 42
        && (token.starts_with("0x") || token.starts_with("0X"))
        && token[2..].bytes().all(|b| b.is_ascii_hexdigit())
        && token[2..].bytes().any(|b| b.is_ascii_alphabetic())
    {
        return Some("ethereum");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_checked_addresses() {
        // The genesis block's address, a P2SH address and BIP-173's example addresses.
        let text =
            "Send to 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa or 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy, \
                    or bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4, \
                    or 0x52908400098527886E0F7030069857D2E4169EE7.";
        let found = find(text);
        let kinds: Vec<&str> = found.iter().map(|w| w.kind).collect();
        assert_eq!(kinds, ["bitcoin", "bitcoin", "bitcoin", "ethereum"]);
        assert_eq!(&text[found[0].at..found[0].at + 34], found[0].address);
    }

    #[test]
    fn look_alikes_are_not_addresses() {
        // One character changed breaks the checksum.
        assert!(find("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb").is_empty());
        assert!(find("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5").is_empty());
        // Tracking numbers, hashes and ids of the same length.
        assert!(find("Order 1Z999AA10123456784 ref 3f2504e04f8911d39a0c0305e82c3301").is_empty());
        assert!(find("0x0000000000000000000000000000000000000000").is_empty());
    }
}
