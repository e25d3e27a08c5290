#!/bin/bash
# Boots a sixfs test kernel in QEMU and runs one command in it.
#
#   run-guest.sh [-f debug|perf] [-d DISK]... [-a FILE]... [-b PROGRAM]... [-t SECONDS] [-m MEMORY] [-o OUTDIR] -- COMMAND...
#
# The guest is a busybox initramfs holding sixfs.ko, the selftests, the
# guest scripts and any -a FILE under /sixfs, and the kernel's own modules
# (if it has any) under /lib/modules. -b PROGRAM copies a dynamically linked
# host program (as /usr/bin/perf for scripts/profile-guest.sh) to its own
# path in the guest, with the shared libraries and the dynamic loader ldd
# lists for it at theirs: the guest has no other libc. Disks appear as
# /dev/vda, /dev/vdb, ...
# The command's output is shown live; the kernel log is saved to
# OUTDIR/dmesg.log. Exits with the command's exit code, or non-zero when the
# guest did not finish or the kernel log shows an oops, BUG, WARNING, KASAN
# report, lockdep splat or hung task.
#
# One exception, for the kernel alone: a report already in the log when the
# guest's init starts, before any sixfs code was loaded, is a problem of
# the test kernel under the emulator (one seen: a KASAN wild access in
# handle_edge_irq during identify_cpu, 3 ms into a TCG boot, about one boot
# in ten). The guest then powers off without running the command, the log
# is kept as OUTDIR/boot-splat-N.log, and the guest boots again, up to
# twice; a third such boot fails the run.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

flavour=debug disks=() extra=() programs=() timeout=1200 memory=2G out=""
while getopts "f:d:a:b:t:m:o:" opt; do
	case $opt in
	f) flavour=$OPTARG ;;
	d) disks+=("$OPTARG") ;;
	a) extra+=("$OPTARG") ;;
	b) programs+=("$OPTARG") ;;
	t) timeout=$OPTARG ;;
	m) memory=$OPTARG ;;
	o) out=$OPTARG ;;
	*) die "usage: run-guest.sh [-f flavour] [-d disk]... [-a file]... [-b program]... [-t seconds] [-m memory] [-o outdir] -- command..." ;;
	esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
(($#)) || die "no command given"
check_flavour "$flavour"
out=$(realpath -m "${out:-$SIXFS_BUILD/guest-$flavour}")
kout=$(kernel_out "$flavour")
kernel=$kout/arch/x86/boot/bzImage
module=$(module_out "$flavour")/sixfs.ko
[ -f "$kernel" ] || die "no $flavour kernel: run scripts/build-kernel.sh $flavour"
[ -f "$module" ] || die "no $flavour module: run scripts/build-module.sh $flavour"

# The initramfs: busybox, the guest scripts, the module and the selftests.
rm -rf "$out" && mkdir -p "$out/root"/{bin,sbin,dev,proc,sys,tmp,sixfs/bin}
root=$out/root
cp /bin/busybox "$root/bin/busybox"
cp "$SIXFS_ROOT/scripts/guest/init" "$root/init"
cp "$SIXFS_ROOT"/scripts/guest/*.sh "$root/sixfs/"
cp "$module" "$root/sixfs/sixfs.ko"
if [ -d "$SIXFS_BUILD/selftests" ]; then
	cp -r "$SIXFS_BUILD/selftests" "$root/sixfs/selftests"
fi
for f in "${extra[@]}"; do
	cp "$f" "$root/sixfs/"
done
for p in "${programs[@]}"; do
	p=$(command -v "$p") || die "-b: no program $p on the host"
	# ldd prints "name => /path (addr)" for libraries, "/path (addr)" for
	# the loader and no path for the vDSO. Copied to the same paths
	# (dereferenced: on a merged-/usr host /lib is a symlink) because the
	# loader's path is written into the program and the libraries' are
	# where the loader searches.
	libs=$(ldd "$p" | sed -n 's/^[[:space:]]*\(.* => \)\{0,1\}\(\/[^ ]*\) (0x[0-9a-f]*)$/\2/p')
	[ -n "$libs" ] || die "-b $p: ldd lists no libraries (not a dynamic program?)"
	for f in "$p" $libs; do
		mkdir -p "$root$(dirname "$f")"
		cp -L "$f" "$root$f"
	done
done
if [ -s "$kout/modules.order" ]; then
	make -s -C "$kout" INSTALL_MOD_PATH="$root" INSTALL_MOD_STRIP=1 modules_install >/dev/null
fi
# Quoted word by word: an argument with spaces (env VAR="a b") stays one.
{ printf '%q ' "$@" && echo; } >"$root/sixfs/command"
# Any of these in the kernel log fails the run, whatever the command said
# (the guest's init looks for them before it starts, see above).
splats='Oops|BUG:|WARNING:|KASAN|Kernel panic|general protection fault|kernel BUG|UBSAN|INFO: task .* blocked for more than|detected stall|INFO: trying to register non-static key|possible circular locking|possible recursive locking|inconsistent lock state'
printf '%s\n' "$splats" >"$root/sixfs/splats"
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet) >"$out/initramfs.cpio"

# KVM only when it really works: on some hosts /dev/kvm exists but the CPU
# has no virtualisation extensions and a KVM guest hangs.
accel=${SIXFS_ACCEL:-}
if [ -z "$accel" ]; then
	if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then accel=kvm; else accel=tcg; fi
fi
case $accel in
kvm) accel_args=(-accel kvm -cpu host) ;;
tcg) accel_args=(-accel tcg,thread=multi -cpu max) ;;
*) die "SIXFS_ACCEL must be kvm or tcg" ;;
esac

echo "$accel" >"$out/accel"

disk_args=()
for d in "${disks[@]}"; do
	disk_args+=(-drive "file=$d,if=virtio,format=raw,cache=unsafe")
done

boot() {
	: >"$out/output.log"
	echo "run-guest: booting the $flavour kernel ($accel), log in $out/dmesg.log"
	set +e
	timeout --kill-after=10 "$timeout" qemu-system-x86_64 "${accel_args[@]}" \
		-smp 2 -m "$memory" -nodefaults -no-reboot -display none \
		-kernel "$kernel" -initrd "$out/initramfs.cpio" \
		-append "console=ttyS0 ignore_loglevel panic=-1 hung_task_panic=0 rdinit=/init" \
		-serial "file:$out/dmesg.log" -chardev "file,id=out,path=$out/output.log" -serial chardev:out \
		"${disk_args[@]}" &
	qemu=$!
	tail -f --pid=$qemu "$out/output.log" | tr -d '\r' | grep -v '^SIXFS_GUEST_EXIT='
	wait $qemu
	qemu_rc=$?
	set -e
}
for attempt in 1 2 3; do
	boot
	grep -q '^SIXFS_BOOT_SPLAT' "$out/output.log" || break
	cp "$out/dmesg.log" "$out/boot-splat-$attempt.log"
	echo "run-guest: the kernel reported a problem before sixfs was loaded (kept in $out/boot-splat-$attempt.log):" >&2
	grep -m 3 -E "$splats" "$out/dmesg.log" >&2 || :
	[ "$attempt" = 3 ] || echo "run-guest: booting again" >&2
done

rc=$(tr -d '\r' <"$out/output.log" | sed -n 's/^SIXFS_GUEST_EXIT=\([0-9]*\)$/\1/p' | tail -1)
if [ -z "$rc" ]; then
	[ "$qemu_rc" = 124 ] && echo "run-guest: the guest timed out after ${timeout}s" >&2
	echo "run-guest: the guest did not finish (qemu exit $qemu_rc); last kernel messages:" >&2
	tail -n 30 "$out/dmesg.log" >&2
	rc=125
fi

if grep -nE "$splats" "$out/dmesg.log" >"$out/splats.log"; then
	echo "run-guest: the kernel log reports problems:" >&2
	head -n 20 "$out/splats.log" >&2
	echo "run-guest: full kernel log: $out/dmesg.log" >&2
	[ "$rc" = 0 ] && rc=3
fi
exit "$rc"
