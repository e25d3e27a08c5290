#!/bin/bash
# Installs everything sixfs needs on a Debian 12 (bookworm) machine, as root.
# Idempotent: each step checks first and does nothing when already done.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUST_VERSION=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$ROOT/rust-toolchain.toml")
BINDGEN_VERSION=0.71.1

APT_PACKAGES=(
	linux-source-6.12 make gcc bc flex bison cpio kmod xz-utils rsync
	libelf-dev libssl-dev dwarves python3 python3-venv
	clang lld llvm libclang-dev
	# libFuzzer, which scripts/fuzz.sh builds from the libfuzzer-sys crate, is C++.
	g++
	qemu-system-x86 busybox-static
	e2fsprogs btrfs-progs xfsprogs
	# make bench decompresses the bcachefs anchor image.
	zstd
	# make profile runs the host's perf in the guest.
	linux-perf
)

log() { echo "install-deps: $*"; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	log "apt: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v rustup >/dev/null; then
	echo "install-deps: rustup is required (https://rustup.rs is not reachable here; install it from your distribution)" >&2
	exit 1
fi
if ! rustup toolchain list | grep -q "^$RUST_VERSION"; then
	log "rust $RUST_VERSION"
	rustup toolchain install "$RUST_VERSION" --profile minimal
fi
components=$(rustup component list --toolchain "$RUST_VERSION" --installed)
for c in rust-src rustfmt clippy; do
	grep -q "^$c" <<<"$components" || { log "rust component $c"; rustup component add "$c" --toolchain "$RUST_VERSION"; }
done

if ! bindgen --version 2>/dev/null | grep -q "$BINDGEN_VERSION"; then
	log "bindgen-cli $BINDGEN_VERSION"
	cargo "+$RUST_VERSION" install --quiet --locked bindgen-cli --version "$BINDGEN_VERSION"
fi
log "all present"
