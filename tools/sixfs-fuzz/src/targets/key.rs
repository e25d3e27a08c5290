// SPDX-License-Identifier: GPL-2.0

//! `KeyRef::parse` over a run of keys, as a bset stores them.
//!
//! Every key parse accepts must be canonical: its owned form encodes to
//! exactly the bytes parsed, and those parse to the same key.

use crate::{Outcome, Target};
use sixfs_core::bkey::{BtreePtr, Key, KeyRef, Pos, TestVal, Value, MAX_KEY_BYTES};

pub static TARGET: Target = Target {
    name: "key",
    seeds,
    check,
    fix_up: None,
    // The header of the first key (bkey/encoding.rs): length, type,
    // flags, size, version, position, value length.
    fields: &[0, 2, 3, 4, 8, 16, 24, 32, 36, 38],
    max_input: 2 * MAX_KEY_BYTES,
};

/// Where the key's flags byte is (bkey/encoding.rs).
const FLAGS_AT: usize = 3;

/// Keys of every type, encoded back to back.
pub fn sample_keys() -> Vec<Key> {
    let mut keys = vec![
        Key::new(
            Pos::new(1, 2, 3),
            Value::Test(TestVal::new(b"value").unwrap()),
        ),
        Key::new(Pos::new(1, 3, 0), Value::Test(TestVal::new(&[]).unwrap())),
        Key::deleted(Pos::new(2, 0, 0)),
        Key::new(Pos::new(2, 0, 1), Value::Test(TestVal::new(b"x").unwrap())),
        Key::new(Pos::new(2, 1, 0), Value::Whiteout),
        Key::new(
            Pos::new(3, 0, 0),
            Value::BtreePtr(BtreePtr { node: 42, seq: 7 }),
        ),
        Key::extent(4, 100, 164, 0, Value::Test(TestVal::new(&[9; 20]).unwrap()))
            .expect("a valid extent"),
    ];
    keys[0].version = 5;
    keys
}

/// `keys` encoded back to back.
pub fn encode_all(keys: &[Key]) -> Vec<u8> {
    let mut out = Vec::new();
    for key in keys {
        let mut buf = [0u8; MAX_KEY_BYTES];
        let len = key.encode(&mut buf).expect("a seed key is valid");
        out.extend_from_slice(&buf[..len]);
    }
    out
}

fn seeds() -> Vec<Vec<u8>> {
    let keys = sample_keys();
    let mut out: Vec<Vec<u8>> = keys.iter().map(|k| encode_all(&[*k])).collect();
    out.push(encode_all(&keys));
    out
}

/// Parses keys from the start of `input` until one is refused.
fn check(input: &[u8]) -> Result<Outcome, String> {
    let mut rest = input;
    let mut outcome = Outcome::Refused;
    while let Ok((key, after)) = KeyRef::parse(rest) {
        outcome = Outcome::Accepted;
        if key.len() != rest.len() - after.len() || key.as_bytes() != &rest[..key.len()] {
            return Err("parse's key is not the bytes it consumed".into());
        }
        let owned = key
            .to_key()
            .map_err(|e| format!("{key:?}: parsed but has no owned form: {e:?}"))?;
        let mut buf = [0u8; MAX_KEY_BYTES];
        let len = owned
            .encode(&mut buf)
            .map_err(|e| format!("{key:?}: parsed but does not encode: {e:?}"))?;
        // The needs-whiteout flag is the node's bookkeeping, kept in the
        // key's bytes but not in its owned form: carry it over.
        buf[FLAGS_AT] = key.as_bytes()[FLAGS_AT];
        if buf[..len] != *key.as_bytes() {
            return Err(format!(
                "{key:?}: accepted bytes that encode does not write"
            ));
        }
        match KeyRef::parse(&buf[..len]) {
            Ok((again, [])) if again == key => {}
            other => return Err(format!("{key:?}: re-encoded, parses as {other:?}")),
        }
        if owned.pos != key.pos() || owned.kind() != key.kind() {
            return Err(format!("{key:?}: the owned form differs"));
        }
        rest = after;
    }
    Ok(outcome)
}
