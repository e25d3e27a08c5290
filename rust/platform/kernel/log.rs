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

/// Panics the kernel with a message (`errors=panic`).
pub fn fatal(args: core::fmt::Arguments<'_>) -> ! {
    let args: *const core::fmt::Arguments<'_> = &args;
    // SAFETY: the format is a NUL-terminated string whose one conversion,
    // `%pA`, takes a pointer to `core::fmt::Arguments` (lib/vsprintf.c);
    // `args` outlives the call, which does not return.
    unsafe {
        kernel::bindings::panic(
            c"sixfs: %pA\n".as_ptr().cast(),
            args.cast::<core::ffi::c_void>(),
        )
    }
}
