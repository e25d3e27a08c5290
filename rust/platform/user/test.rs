// SPDX-License-Identifier: GPL-2.0

//! Userspace platform: std and the standard test harness.

/// Declares the test cases of one suite, shared by both builds.
///
/// Each case is a function returning [`TestResult`]; in userspace it becomes
/// a `#[test]`, in the kernel a KUnit case of a suite with the given name.
macro_rules! test_suite {
    ($suite:ident; $(fn $case:ident() $body:block)*) => {
        $(
            #[test]
            fn $case() {
                #[allow(unreachable_code)]
                fn case() -> $crate::platform::TestResult {
                    $body
                    Ok(())
                }
                case().expect(concat!(stringify!($suite), "::", stringify!($case)));
            }
        )*
    };
}
pub(crate) use test_suite;

/// Fails the current test case unless `cond` holds.
macro_rules! check {
    ($cond:expr $(,)?) => {
        assert!($cond)
    };
}
pub(crate) use check;

/// Fails the current test case unless both sides are equal.
macro_rules! check_eq {
    ($left:expr, $right:expr $(,)?) => {
        assert_eq!($left, $right)
    };
}
pub(crate) use check_eq;

/// The failure of a test case that already reported why.
#[derive(Debug)]
pub(crate) struct TestFailed;

/// What a shared test case returns.
pub(crate) type TestResult = Result<(), TestFailed>;

/// Reports a line of a test's findings (counts, rates) on standard output
/// (shown by `cargo test -- --nocapture`).
macro_rules! test_info {
    ($($arg:tt)*) => {
        std::println!($($arg)*)
    };
}
pub(crate) use test_info;
