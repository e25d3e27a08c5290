#!/bin/bash
# Builds the test kernel of one flavour (debug or perf) out of tree, from the
# Debian linux-source-6.12 package. Rebuilds only when the config fragments,
# the source package or the rust toolchain change.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

flavour=${1:-debug}
check_flavour "$flavour"
out=$(kernel_out "$flavour")
fragments=("$SIXFS_ROOT/scripts/kconfig/base.config" "$SIXFS_ROOT/scripts/kconfig/$flavour.config")

[ -f "$KERNEL_TARBALL" ] || die "$KERNEL_TARBALL missing: run scripts/install-deps.sh"

# The source tree is extracted once per source package version.
src_id=$(stat -c '%s %Y' "$KERNEL_TARBALL")
if [ "$(cat "$KERNEL_SRC/.sixfs-src" 2>/dev/null)" != "$src_id" ]; then
	echo "build-kernel: extracting $KERNEL_TARBALL"
	rm -rf "$KERNEL_SRC" "$KERNEL_SRC.tmp"
	mkdir -p "$KERNEL_SRC.tmp"
	tar -xf "$KERNEL_TARBALL" -C "$KERNEL_SRC.tmp" --strip-components=1
	echo "$src_id" >"$KERNEL_SRC.tmp/.sixfs-src"
	mv "$KERNEL_SRC.tmp" "$KERNEL_SRC"
fi

stamp=$( (echo "$src_id"; rustc --version; bindgen --version; cat "${fragments[@]}") | sha256sum | cut -d' ' -f1)
if [ -f "$out/arch/x86/boot/bzImage" ] && [ "$(cat "$out/.sixfs-stamp" 2>/dev/null)" = "$stamp" ]; then
	echo "build-kernel: $flavour kernel up to date"
	exit 0
fi

kmake() { make -C "$KERNEL_SRC" O="$out" LLVM=1 "$@"; }

mkdir -p "$out"
echo "build-kernel: configuring the $flavour kernel"
rm -f "$out/.sixfs-stamp"
kmake -s tinyconfig >/dev/null
(cd "$out" && "$KERNEL_SRC/scripts/kconfig/merge_config.sh" -m -O "$out" .config "${fragments[@]}" >/dev/null)
kmake -s olddefconfig >/dev/null

# Kconfig silently drops options whose dependencies are unmet (KASAN with
# SLUB_TINY, RUST when rustc is not usable): check what we asked for.
bad=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=n) opt=${line%=n}; grep -q "^$opt=" "$out/.config" && { echo "  $opt is set, wanted off"; bad=1; } ;;
	CONFIG_*) grep -qx "$line" "$out/.config" || { echo "  wanted $line, got: $(grep "^${line%%=*}=" "$out/.config" || echo 'not set')"; bad=1; } ;;
	esac
done < <(grep -h '^CONFIG_' "${fragments[@]}")
if [ "$bad" = 1 ]; then
	kmake rustavailable || true
	die "the $flavour kernel config does not match scripts/kconfig (see above)"
fi

echo "build-kernel: building the $flavour kernel (-j$JOBS)"
kmake -j"$JOBS" -s all
echo "$stamp" >"$out/.sixfs-stamp"
echo "build-kernel: $flavour kernel ready: $out/arch/x86/boot/bzImage"
