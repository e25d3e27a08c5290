// SPDX-License-Identifier: GPL-2.0

//! Messages for the kernel log: the core says what went wrong (a bad node,
//! a device error) where it knows the details.

/// Logs an error line (`pr_err`).
pub fn error(args: core::fmt::Arguments<'_>) {
    kernel::pr_err!("{}\n", args);
}

/// Logs a warning line (`pr_warn`).
pub fn warn(args: core::fmt::Arguments<'_>) {
    kernel::pr_warn!("{}\n", args);
}

/// Logs an informational line (`pr_info`).
pub fn info(args: core::fmt::Arguments<'_>) {
    kernel::pr_info!("{}\n", args);
}
