// SPDX-License-Identifier: GPL-2.0

//! KUnit suites written in Rust.
//!
//! Linux 6.12 has no `#[kunit_tests]`; this builds the same C structures in
//! statics and puts a pointer to each suite in the `.kunit_test_suites`
//! section, where the module loader finds them and KUnit runs them at load.
//! Tests use `platform::test_suite!`, which expands to [`kunit_suite!`].

use super::ffi;
use core::{ffi::c_void, fmt};
use kernel::{bindings, prelude::*};

/// A KUnit case from its NUL-terminated name and its runner.
pub(crate) const fn case(
    name: &'static str,
    run: extern "C" fn(*mut bindings::kunit),
) -> bindings::kunit_case {
    assert!(
        name.as_bytes()[name.len() - 1] == 0,
        "case name must end in NUL"
    );
    // SAFETY: all-zero is a valid `kunit_case`: null pointers, no parameter
    // generator, default attributes, status "success".
    let mut case: bindings::kunit_case = unsafe { core::mem::zeroed() };
    case.run_case = Some(run);
    case.name = name.as_ptr().cast();
    case
}

/// The all-zero case that ends a suite's case array.
pub(crate) const fn case_end() -> bindings::kunit_case {
    // SAFETY: all-zero is a valid `kunit_case` and the terminator KUnit expects.
    unsafe { core::mem::zeroed() }
}

/// A KUnit suite named `name` running the zero-terminated array `cases`.
pub(crate) const fn suite(name: &str, cases: *mut bindings::kunit_case) -> bindings::kunit_suite {
    // SAFETY: all-zero is a valid `kunit_suite`: no init/exit callbacks,
    // null pointers, empty strings.
    let mut suite: bindings::kunit_suite = unsafe { core::mem::zeroed() };
    let bytes = name.as_bytes();
    assert!(bytes.len() < suite.name.len(), "suite name too long");
    let mut i = 0;
    while i < bytes.len() {
        suite.name[i] = bytes[i] as _;
        i += 1;
    }
    suite.test_cases = cases;
    suite
}

/// Marks the running KUnit case failed, with a message naming the check.
pub(crate) fn report_failure(file: &str, line: u32, what: fmt::Arguments<'_>) {
    // SAFETY: no preconditions; returns null outside a KUnit case.
    let test = unsafe { bindings::kunit_get_current_test() };
    if test.is_null() {
        pr_err!("{file}:{line}: {what} (outside a KUnit case)\n");
        return;
    }
    fail(test, format_args!("{file}:{line}: {what}"));
}

/// Ends the running case, which returned `ok`: one that returned an error
/// fails, with a message of its own unless it already reported a failure
/// (`check!` does; a bare `return Err(TestFailed)` does not).
pub(crate) fn case_returned(ok: bool) {
    if ok {
        return;
    }
    // SAFETY: no preconditions; returns null outside a KUnit case.
    let test = unsafe { bindings::kunit_get_current_test() };
    if test.is_null() {
        pr_err!("a test case returned an error (outside a KUnit case)\n");
        return;
    }
    // SAFETY: `test` is the case running on this thread, live until the case
    // returns; `KUNIT_FAIL` writes its `status` with WRITE_ONCE, read here
    // once, as READ_ONCE would.
    let status = unsafe { core::ptr::read_volatile(&raw const (*test).status) };
    if status != bindings::kunit_status_KUNIT_FAILURE {
        fail(
            test,
            format_args!("the case returned an error without reporting a failure"),
        );
    }
}

/// Fails the KUnit case `test` with `message`.
fn fail(test: *mut bindings::kunit, message: fmt::Arguments<'_>) {
    let message: *const fmt::Arguments<'_> = &message;
    // SAFETY: `test` is the case running on this thread (checked by the
    // caller), and `message` points to a `fmt::Arguments`, as `%pA`
    // requires, that outlives the call.
    unsafe { ffi::sixfs_kunit_fail(test, message.cast::<c_void>()) };
}

/// Registers a KUnit suite of Rust test functions returning `TestResult`.
macro_rules! kunit_suite {
    ($suite:ident; $($case:ident),* $(,)?) => {
        mod $suite {
            $(
                pub(super) extern "C" fn $case(_test: *mut kernel::bindings::kunit) {
                    $crate::glue::kunit::case_returned(super::$case().is_ok());
                }
            )*
        }

        // The suite's statics are glue expanded into a core test module:
        // the core denies `unsafe_code` (which counts `#[link_section]`),
        // and this is the one place allowed to opt out.
        #[allow(unsafe_code)]
        const _: () = {
            const CASES_LEN: usize = [$(stringify!($case)),*].len() + 1;
            static mut CASES: [kernel::bindings::kunit_case; CASES_LEN] = [
                $($crate::glue::kunit::case(concat!(stringify!($case), "\0"), $suite::$case),)*
                $crate::glue::kunit::case_end(),
            ];
            static mut SUITE: kernel::bindings::kunit_suite =
                $crate::glue::kunit::suite(stringify!($suite), &raw mut CASES as *mut _);
            #[used]
            #[link_section = ".kunit_test_suites"]
            static mut SUITE_ENTRY: *const kernel::bindings::kunit_suite = &raw const SUITE;
        };
    };
}
pub(crate) use kunit_suite;
