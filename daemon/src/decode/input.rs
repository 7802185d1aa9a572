//! Hex input for `evpnctl decode`: one or more whole BGP messages, marker included.

/// Why hex input could not be turned into messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HexInputError {
    #[error("not hex: {0:?} at octet {1}")]
    NotHex(char, usize),
    #[error("odd number of hex digits ({0})")]
    OddLength(usize),
    #[error("no input: give hex as an argument, on stdin, or --pcap FILE")]
    Empty,
}

/// Hex digits from text: whitespace, `:`, `-` and `0x` prefixes are ignored, and so is any
/// line starting with `#` (the comment lines of our golden `.hex` files).
pub fn parse_hex(text: &str) -> Result<Vec<u8>, HexInputError> {
    let mut digits = Vec::with_capacity(text.len());
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        for word in line.split(|c: char| c.is_whitespace() || c == ':' || c == '-') {
            let word = word
                .strip_prefix("0x")
                .or_else(|| word.strip_prefix("0X"))
                .unwrap_or(word);
            for c in word.chars() {
                let v = c
                    .to_digit(16)
                    .ok_or(HexInputError::NotHex(c, digits.len() / 2))?;
                digits.push(v as u8);
            }
        }
    }
    if digits.is_empty() {
        return Err(HexInputError::Empty);
    }
    if digits.len() % 2 != 0 {
        return Err(HexInputError::OddLength(digits.len()));
    }
    Ok(digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect())
}

/// Splits concatenated messages on the BGP length field. A length that is impossible (below
/// the 19-octet header) or overruns the input ends the split: the rest is returned as one
/// final piece, so the decoder reports exactly what is wrong with it.
pub fn split_messages(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let len = match data.get(16..18) {
            Some(l) => usize::from(u16::from_be_bytes([l[0], l[1]])),
            None => data.len(),
        };
        if len < 19 || len > data.len() {
            out.push(data);
            break;
        }
        let (msg, rest) = data.split_at(len);
        out.push(msg);
        data = rest;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_forms() {
        assert_eq!(parse_hex("0xff 00\nAB").unwrap(), vec![0xff, 0x00, 0xab]);
        assert_eq!(
            parse_hex("# a comment\nff:00-ab").unwrap(),
            vec![0xff, 0x00, 0xab]
        );
        assert_eq!(parse_hex("ff0"), Err(HexInputError::OddLength(3)));
        assert_eq!(parse_hex("ffzz"), Err(HexInputError::NotHex('z', 1)));
        assert_eq!(
            parse_hex(" \n# only a comment\n"),
            Err(HexInputError::Empty)
        );
    }

    #[test]
    fn split_on_length() {
        let mut ka = vec![0xff; 16];
        ka.extend_from_slice(&[0, 19, 4]);
        let mut two = ka.clone();
        two.extend(&ka);
        assert_eq!(split_messages(&two), vec![&ka[..], &ka[..]]);
        // Truncated second message: handed over whole so the decoder can say why.
        assert_eq!(split_messages(&two[..30]), vec![&ka[..], &ka[..11]]);
        // Impossible length stops the split.
        let mut bad = ka.clone();
        bad[17] = 3;
        assert_eq!(split_messages(&bad), vec![&bad[..]]);
    }
}
