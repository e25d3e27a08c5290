// SPDX-License-Identifier: GPL-2.0

//! UUIDs: parsed from and shown as `8-4-4-4-12` hex, made random (v4).

use std::fmt::Write;
use std::io::Read;

/// The UUID `text` (`01234567-89ab-cdef-0123-456789abcdef`, hyphens
/// optional, any case).
pub fn parse(text: &str) -> Result<[u8; 16], String> {
    let hex: Vec<u8> = text.bytes().filter(|&b| b != b'-').collect();
    let bad = || {
        format!("invalid UUID {text:?} (expected 32 hex digits, as 01234567-89ab-cdef-0123-456789abcdef)")
    };
    if hex.len() != 32 {
        return Err(bad());
    }
    let mut uuid = [0u8; 16];
    for (byte, pair) in uuid.iter_mut().zip(hex.chunks_exact(2)) {
        let digits = std::str::from_utf8(pair).map_err(|_| bad())?;
        *byte = u8::from_str_radix(digits, 16).map_err(|_| bad())?;
    }
    Ok(uuid)
}

/// `uuid` in its usual text form.
pub fn format(uuid: &[u8; 16]) -> String {
    let hex: String = uuid.iter().fold(String::new(), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    });
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A random (version 4) UUID from the kernel's random source.
pub fn random() -> std::io::Result<[u8; 16]> {
    let mut uuid = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut uuid)?;
    uuid[6] = (uuid[6] & 0x0f) | 0x40; // version 4
    uuid[8] = (uuid[8] & 0x3f) | 0x80; // RFC 4122 variant
    Ok(uuid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        let text = "01234567-89ab-cdef-0123-456789abcdef";
        let uuid = parse(text).unwrap();
        assert_eq!(format(&uuid), text);
        assert_eq!(parse("0123456789ABCDEF0123456789abcdef").unwrap(), uuid);
        assert!(parse("0123").is_err());
        assert!(parse("g1234567-89ab-cdef-0123-456789abcdef").is_err());
        assert!(parse("é1234567-89ab-cdef-0123-456789abcde").is_err());
        let r = random().unwrap();
        assert_eq!(r[6] >> 4, 4);
        assert_ne!(r, random().unwrap());
    }
}
