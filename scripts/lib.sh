# Shared settings for the sixfs scripts. Source it; it sets paths only.
SIXFS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIXFS_BUILD=${SIXFS_BUILD:-$SIXFS_ROOT/build}
KERNEL_TARBALL=${KERNEL_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
KERNEL_SRC=$SIXFS_BUILD/linux-src
RUST_VERSION=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$SIXFS_ROOT/rust-toolchain.toml")
export RUSTUP_TOOLCHAIN=$RUST_VERSION
export PATH=$HOME/.cargo/bin:$PATH
JOBS=${JOBS:-$(($(nproc) + 1))}

kernel_out() { echo "$SIXFS_BUILD/kernel-$1"; }
module_out() { echo "$SIXFS_BUILD/module-$1"; }

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

check_flavour() {
	case "$1" in debug | perf) ;; *) die "unknown kernel flavour '$1' (debug or perf)" ;; esac
}
