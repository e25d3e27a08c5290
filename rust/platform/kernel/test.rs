// SPDX-License-Identifier: GPL-2.0

//! Kernel platform: the kernel crate, KUnit through the glue layer.

/// Declares the test cases of one suite, shared by both builds.
///
/// In the kernel the cases form a KUnit suite named `$suite`, compiled only
/// when the kernel has KUnit; they run when the module is loaded. A case
/// that returns an error fails, whether or not it reported why.
macro_rules! test_suite {
    ($suite:ident; $(fn $case:ident() $body:block)*) => {
        $(
            #[allow(unreachable_code)]
            fn $case() -> $crate::platform::TestResult {
                $body
                Ok(())
            }
        )*
        $crate::glue::kunit::kunit_suite!($suite; $($case),*);
    };
}
pub(crate) use test_suite;

/// Fails the current test case unless `cond` holds: reports to KUnit and
/// returns from the case (a kernel test must not panic).
macro_rules! check {
    ($cond:expr $(,)?) => {
        if !$cond {
            $crate::glue::kunit::report_failure(
                file!(),
                line!(),
                format_args!("check!({}) failed", stringify!($cond)),
            );
            return Err($crate::platform::TestFailed);
        }
    };
}
pub(crate) use check;

/// Fails the current test case unless both sides are equal.
macro_rules! check_eq {
    ($left:expr, $right:expr $(,)?) => {
        match (&$left, &$right) {
            (left, right) => {
                if !(*left == *right) {
                    $crate::glue::kunit::report_failure(
                        file!(),
                        line!(),
                        format_args!(
                            "check_eq!({}, {}) failed: left {:?}, right {:?}",
                            stringify!($left),
                            stringify!($right),
                            left,
                            right
                        ),
                    );
                    return Err($crate::platform::TestFailed);
                }
            }
        }
    };
}
pub(crate) use check_eq;

/// The failure of a test case that already reported why.
#[derive(Debug)]
pub(crate) struct TestFailed;

/// What a shared test case returns.
pub(crate) type TestResult = Result<(), TestFailed>;

/// Reports a line of a test's findings (counts, rates) to the kernel log.
macro_rules! test_info {
    ($($arg:tt)*) => {
        kernel::pr_info!("{}\n", format_args!($($arg)*))
    };
}
pub(crate) use test_info;
