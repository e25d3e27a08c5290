// SPDX-License-Identifier: GPL-2.0

//! Tests of key encoding, run by `cargo test` and as the KUnit suite
//! `sixfs_bkey`.

use super::encoding::{key_bytes, KeyError, HEADER_BYTES, MAX_VAL_BYTES};
use super::{BtreePtr, Key, KeyRef, KeyType, Pos, TestVal, Value};
use crate::platform::{check, check_eq, test_suite};

fn samples() -> [Key; 5] {
    let mut versioned = Key::new(Pos::new(1, 2, 3), Value::Test(TestVal::from_u64(42)));
    versioned.version = 0x0102_0304_0506_0708;
    [
        Key::deleted(Pos::new(0, 0, 0)),
        Key::new(Pos::MAX, Value::Whiteout),
        versioned,
        Key::new(
            Pos::new(9, 8, 7),
            Value::BtreePtr(BtreePtr {
                node: u64::MAX,
                seq: 5,
            }),
        ),
        Key::extent(
            4,
            10,
            30,
            1,
            Value::Test(TestVal::new(b"abc").unwrap_or_default()),
        )
        .unwrap_or(Key::deleted(Pos::MIN)),
    ]
}

test_suite! {
    sixfs_bkey;

    fn encoding_round_trips() {
        for key in samples() {
            let mut buf = [0xffu8; 128];
            let len = key.encode(&mut buf);
            check_eq!(len, Ok(key.encoded_len()));
            check_eq!(key.encoded_len() % 8, 0);
            let parsed = KeyRef::parse(&buf[..key.encoded_len()]);
            check!(parsed.is_ok());
            if let Ok((k, rest)) = parsed {
                check!(rest.is_empty());
                check_eq!(k.to_key(), Ok(key));
                check_eq!(k.pos(), key.pos);
                check_eq!(k.kind(), key.kind());
                check_eq!(k.header(), key.header());
                check!(!k.needs_whiteout());
            }
        }
    }

    fn header_layout_is_little_endian() {
        let mut key = Key::new(Pos::new(0x11, 0x22, 0x33), Value::Test(TestVal::from_u64(7)));
        key.size = 0x10;
        key.version = 0x44;
        let mut buf = [0u8; 48];
        check_eq!(key.encode(&mut buf), Ok(48));
        check_eq!(&buf[..8], &[6, 0, KeyType::Test as u8, 0, 0x10, 0, 0, 0][..]);
        check_eq!(buf[8], 0x44);
        check_eq!(buf[16], 0x11);
        check_eq!(buf[24], 0x22);
        check_eq!(buf[32], 0x33);
        check_eq!(&buf[36..40], &[8, 0, 0, 0][..]);
        check_eq!(buf[40], 7);
        check_eq!(key_bytes(0), HEADER_BYTES);
        check_eq!(key_bytes(1), HEADER_BYTES + 8);
    }

    fn keys_parse_back_to_back() {
        let keys = samples();
        let mut buf = [0u8; 512];
        let mut at = 0;
        for key in &keys {
            let len = key.encode(&mut buf[at..]);
            check!(len.is_ok());
            at += len.unwrap_or(0);
        }
        let mut rest = &buf[..at];
        for key in &keys {
            let parsed = KeyRef::parse(rest);
            check!(parsed.is_ok());
            if let Ok((k, r)) = parsed {
                check_eq!(k.to_key(), Ok(*key));
                rest = r;
            }
        }
        check!(rest.is_empty());
    }

    fn parse_refuses_damage() {
        let key = Key::new(Pos::new(1, 2, 3), Value::Test(TestVal::from_u64(9)));
        let mut good = [0u8; 48];
        check_eq!(key.encode(&mut good), Ok(48));
        let damaged = |at: usize, v: u8| {
            let mut b = good;
            b[at] = v;
            KeyRef::parse(&b).map(|_| ())
        };
        check_eq!(KeyRef::parse(&good[..47]).map(|_| ()), Err(KeyError::Truncated));
        check_eq!(KeyRef::parse(&good[..39]).map(|_| ()), Err(KeyError::Truncated));
        check_eq!(damaged(0, 0), Err(KeyError::BadLength));
        check_eq!(damaged(0, 7), Err(KeyError::BadLength));
        check_eq!(damaged(2, 200), Err(KeyError::BadType(200)));
        check_eq!(damaged(2, KeyType::Deleted as u8), Err(KeyError::BadValue));
        check_eq!(damaged(3, 2), Err(KeyError::Reserved));
        check_eq!(damaged(38, 1), Err(KeyError::Reserved));
        let short = Key::new(Pos::MIN, Value::Test(TestVal::new(b"abc").unwrap_or_default()));
        let mut padded = [0u8; 48];
        check_eq!(short.encode(&mut padded), Ok(48));
        check!(KeyRef::parse(&padded).is_ok());
        padded[47] = 1;
        check_eq!(KeyRef::parse(&padded).map(|_| ()), Err(KeyError::Reserved));
        check_eq!(damaged(4, 3), Err(KeyError::BadSize));
        check_eq!(damaged(36, 9), Err(KeyError::BadLength));
    }

    fn encode_refuses_bad_keys() {
        let mut buf = [0u8; 64];
        let mut key = Key::new(Pos::new(1, 5, 0), Value::Deleted);
        key.size = 6;
        check_eq!(key.encode(&mut buf), Err(KeyError::BadSize));
        let big = Key::new(Pos::MIN, Value::Test(TestVal::from_u64(1)));
        check_eq!(big.encode(&mut buf[..47]), Err(KeyError::Truncated));
        check!(MAX_VAL_BYTES + HEADER_BYTES <= super::MAX_KEY_BYTES);
    }

    fn test_values_hold_bytes_or_u64() {
        check_eq!(TestVal::from_u64(77).as_u64(), Some(77));
        check_eq!(TestVal::new(b"xyz").map(|v| v.as_u64()), Some(None));
        check_eq!(TestVal::new(&[1u8; 33]), None);
        check_eq!(TestVal::new(&[1u8; 32]).map(|v| v.as_bytes().len()), Some(32));
    }

    fn extent_keys_cover_their_range() {
        let k = Key::extent(1, 10, 20, 0, Value::Whiteout);
        check_eq!(k.map(|k| (k.start(), k.pos.offset, k.size)), Some((10, 20, 10)));
        check_eq!(Key::extent(1, 10, 10, 0, Value::Whiteout), None);
        check_eq!(Key::extent(1, 20, 10, 0, Value::Whiteout), None);
        check_eq!(Key::extent(1, 0, 1 << 33, 0, Value::Whiteout), None);
    }
}
