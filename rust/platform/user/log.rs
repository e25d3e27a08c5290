// SPDX-License-Identifier: GPL-2.0

//! Messages on standard error: the core says what went wrong (a bad node,
//! a device error) where it knows the details; the tools show them.

/// Prints an error line.
pub fn error(args: core::fmt::Arguments<'_>) {
    std::eprintln!("sixfs: error: {args}");
}

/// Prints a warning line.
pub fn warn(args: core::fmt::Arguments<'_>) {
    std::eprintln!("sixfs: warning: {args}");
}

/// Prints an informational line.
pub fn info(args: core::fmt::Arguments<'_>) {
    std::eprintln!("sixfs: {args}");
}

/// Stops the program with a message (`errors=panic`).
pub fn fatal(args: core::fmt::Arguments<'_>) -> ! {
    panic!("sixfs: fatal: {args}")
}
