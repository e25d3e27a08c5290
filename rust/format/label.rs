// SPDX-License-Identifier: GPL-2.0

//! The filesystem's label: a name for humans (`blkid`, `mount LABEL=`).

/// Bytes of the label field.
pub const LABEL_BYTES: usize = 64;

/// A label: up to [`LABEL_BYTES`] bytes of UTF-8 without NUL, stored
/// NUL-padded (so a label of exactly 64 bytes has no terminator).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Label {
    bytes: [u8; LABEL_BYTES],
    len: usize,
}

/// Why a label is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelError {
    /// Longer than [`LABEL_BYTES`].
    TooLong,
    /// Contains a NUL byte (it would end the label early).
    Nul,
    /// Not UTF-8.
    NotUtf8,
    /// Non-zero bytes after the terminating NUL (on disk only).
    Garbage,
}

impl Label {
    /// The empty label.
    pub const EMPTY: Label = Label {
        bytes: [0; LABEL_BYTES],
        len: 0,
    };

    /// A label holding `text`.
    pub fn new(text: &str) -> Result<Self, LabelError> {
        let src = text.as_bytes();
        if src.contains(&0) {
            return Err(LabelError::Nul);
        }
        let mut bytes = [0; LABEL_BYTES];
        bytes
            .get_mut(..src.len())
            .ok_or(LabelError::TooLong)?
            .copy_from_slice(src);
        Ok(Self {
            bytes,
            len: src.len(),
        })
    }

    /// The label read from its on-disk field.
    pub fn decode(field: &[u8; LABEL_BYTES]) -> Result<Self, LabelError> {
        let len = field.iter().position(|&b| b == 0).unwrap_or(LABEL_BYTES);
        let (text, padding) = field.split_at(len);
        if padding.iter().any(|&b| b != 0) {
            return Err(LabelError::Garbage);
        }
        core::str::from_utf8(text).map_err(|_| LabelError::NotUtf8)?;
        Ok(Self { bytes: *field, len })
    }

    /// The on-disk field.
    pub fn field(&self) -> &[u8; LABEL_BYTES] {
        &self.bytes
    }

    /// The label's text.
    pub fn as_str(&self) -> &str {
        // Both constructors checked it is UTF-8 up to `len`.
        let text = self.bytes.get(..self.len).unwrap_or(&[]);
        core::str::from_utf8(text).unwrap_or("")
    }
}

impl core::fmt::Debug for Label {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}
