// SPDX-License-Identifier: GPL-2.0

//! Kernel platform: the kernel crate, KUnit through the glue layer.

/// Declares the test cases of one suite, shared by both builds.
///
/// In the kernel the cases form a KUnit suite named `$suite`, compiled only
/// when the kernel has KUnit; they run when the module is loaded.
#[cfg(CONFIG_KUNIT)]
macro_rules! test_suite {
    ($suite:ident; $(fn $case:ident() $body:block)*) => {
        $(
            #[cfg(CONFIG_KUNIT)]
            #[allow(unreachable_code)]
            fn $case() -> $crate::platform::TestResult {
                $body
                Ok(())
            }
        )*
        #[cfg(CONFIG_KUNIT)]
        $crate::glue::kunit::kunit_suite!($suite; $($case),*);
    };
}
#[cfg(CONFIG_KUNIT)]
pub(crate) use test_suite;

/// Fails the current test case unless `cond` holds: reports to KUnit and
/// returns from the case (a kernel test must not panic).
#[cfg(CONFIG_KUNIT)]
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
#[cfg(CONFIG_KUNIT)]
pub(crate) use check;

/// Fails the current test case unless both sides are equal.
#[cfg(CONFIG_KUNIT)]
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
#[cfg(CONFIG_KUNIT)]
pub(crate) use check_eq;

/// The failure of a test case that already reported why.
#[cfg(CONFIG_KUNIT)]
#[derive(Debug)]
pub(crate) struct TestFailed;

/// What a shared test case returns.
#[cfg(CONFIG_KUNIT)]
pub(crate) type TestResult = Result<(), TestFailed>;
