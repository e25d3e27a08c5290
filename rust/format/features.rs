// SPDX-License-Identifier: GPL-2.0

//! Feature flags: how a filesystem tells an older reader what it uses
//! beyond the format version it was made with.
//!
//! Three sets of 64 bits each, as ext4 has them:
//!
//! - **compat**: the feature changes nothing an older reader could get
//!   wrong; a reader that does not know a bit ignores it (and leaves it
//!   set);
//! - **ro_compat**: an older reader can read the filesystem correctly but
//!   would break it by writing (for instance, a new allocation record it
//!   would not update); a reader that does not know a bit mounts read-only
//!   only;
//! - **incompat**: an older reader cannot even read it correctly; a reader
//!   that does not know a bit refuses the filesystem.
//!
//! Version 1 defines no feature yet: every bit is unknown to it. A feature
//! gets a bit here, a name in [`feature_name`] and a line in
//! Documentation/format.rst; bits are never reused.

/// Compat features this code knows.
pub const COMPAT_KNOWN: u64 = 0;
/// Read-only-compat features this code knows.
pub const RO_COMPAT_KNOWN: u64 = 0;
/// Incompat features this code knows.
pub const INCOMPAT_KNOWN: u64 = 0;

/// The three feature sets of a superblock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features {
    /// Features an older reader may ignore.
    pub compat: u64,
    /// Features an older reader may only read.
    pub ro_compat: u64,
    /// Features an older reader must not touch.
    pub incompat: u64,
}

/// What this code may do with a filesystem, by its features.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read and write.
    ReadWrite,
    /// Read only: the filesystem has these read-only-compat bits this code
    /// does not know.
    ReadOnly {
        /// The unknown bits.
        unknown_ro_compat: u64,
    },
}

impl Features {
    /// Incompat bits this code does not know: the filesystem must be
    /// refused if any.
    pub fn unknown_incompat(&self) -> u64 {
        self.incompat & !INCOMPAT_KNOWN
    }

    /// Read-only-compat bits this code does not know.
    pub fn unknown_ro_compat(&self) -> u64 {
        self.ro_compat & !RO_COMPAT_KNOWN
    }

    /// What the feature rules allow, or the unknown incompat bits.
    pub fn access(&self) -> Result<Access, u64> {
        match (self.unknown_incompat(), self.unknown_ro_compat()) {
            (0, 0) => Ok(Access::ReadWrite),
            (0, unknown_ro_compat) => Ok(Access::ReadOnly { unknown_ro_compat }),
            (unknown, _) => Err(unknown),
        }
    }
}

/// The name of a known feature bit (`bit` is 0..64 of its set), for dump
/// and messages; `None` for a bit this code does not know.
pub fn feature_name(set: FeatureSet, bit: u32) -> Option<&'static str> {
    // No feature is defined in version 1.
    let _ = (set, bit);
    None
}

/// One of the three feature sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeatureSet {
    /// `compat`.
    Compat,
    /// `ro_compat`.
    RoCompat,
    /// `incompat`.
    Incompat,
}
