// SPDX-License-Identifier: GPL-2.0

//! Error codes the kernel crate does not name (`kernel::error::code` has
//! most), made from the C headers' values, so that the layers above never
//! read `bindings` for an errno.

use kernel::{bindings, error::Error};

/// The error for `errno` (a positive value from the C headers).
fn from_c(errno: u32) -> Error {
    // A value the headers define is a valid errno; an invalid one would
    // become EINVAL, never anything unsafe.
    Error::from_errno(i32::try_from(errno).map_or(i32::MIN, |e| -e))
}

/// `EOPNOTSUPP`: the operation is not supported (by this filesystem, or
/// by this version of it).
pub(crate) fn eopnotsupp() -> Error {
    from_c(bindings::EOPNOTSUPP)
}
