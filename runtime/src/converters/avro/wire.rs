//! Confluent's wire format: magic byte 0, the schema id as a 4-byte big-endian int, then
//! the Avro binary encoding of the value.

pub const MAGIC_BYTE: u8 = 0;

/// The framed bytes for a value written with schema `id`.
pub fn frame(id: i32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + body.len());
    out.push(MAGIC_BYTE);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// The schema id and the Avro body of framed bytes; the error says what is wrong.
pub fn unframe(bytes: &[u8]) -> Result<(i32, &[u8]), String> {
    match bytes {
        [MAGIC_BYTE, a, b, c, d, body @ ..] => Ok((i32::from_be_bytes([*a, *b, *c, *d]), body)),
        [MAGIC_BYTE, ..] => Err(format!(
            "Unknown magic byte! (or a truncated record: {} bytes, the header alone takes 5)",
            bytes.len()
        )),
        [other, ..] => Err(format!(
            "Unknown magic byte! (found {other:#04x}, expected 0x00)"
        )),
        [] => Err("Unknown magic byte! (empty record)".to_owned()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_unframes() {
        let f = frame(258, &[7, 8]);
        assert_eq!(f, vec![0, 0, 0, 1, 2, 7, 8]);
        assert_eq!(unframe(&f).unwrap(), (258, &[7u8, 8][..]));
        assert!(
            unframe(&[1, 0, 0, 0, 1])
                .unwrap_err()
                .contains("Unknown magic byte!")
        );
        assert!(unframe(&[0, 0]).unwrap_err().contains("truncated"));
        assert!(unframe(&[]).unwrap_err().contains("empty"));
    }
}
