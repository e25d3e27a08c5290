#!/bin/bash
# `make bench`: boots the perf kernel and runs the benchmarks, writing
# tables (and plots) under bench/results/.
#
#   BENCH=locks|btree|btree-more|mounted|vs-bcachefs|user|all   which benchmarks
#                           (default all; btree-more: the perf_test
#                           workloads without a maple tree counterpart;
#                           mounted: the workloads on a mounted sixfs beside
#                           the in-memory btree, and node I/O against the
#                           raw device; vs-bcachefs: the workloads on a
#                           mounted sixfs beside bcachefs's own perf_test on
#                           a mounted bcachefs; user: the six lock against
#                           std's and parking_lot's RwLock and the btree
#                           against std's BTreeMap, natively)
#   BENCH_COUNT=2M          operations per lock workload
#   BENCH_BTREE_SIZES="10K 100K 1M 10M"   tree sizes of the btree rows
#   BENCH_BTREE_MORE_SIZES="10K 100K 1M"  tree sizes of the other workloads
#   BENCH_MOUNTED_SIZES="10K 100K 1M"     tree sizes of the mounted rows; a size
#                           may name its workloads: "10K 1M:rand_insert,seq_insert"
#   BENCH_WORKLOADS="rand_insert ..."     workloads of the mounted rows (all nine)
#   BENCH_MOUNTED_IO_KEYS=500K            random keys written for the node I/O rows
#                           (default: the last mounted size)
#   BENCH_MOUNTED_NOTE="..."              one more note under the mounted table
#   BCACHEFS_IMAGE=path     an empty bcachefs image (.zst or raw) for vs-bcachefs
#                           (default ../shared/anchors/bcachefs-8G.img.zst beside
#                           the repository, if there; empty: sixfs alone)
#   BENCH_VS_SIZES=1M       keys of the vs-bcachefs rows (10^6, given to both
#                           sides in digits); a size may name its workloads:
#                           "300K 1M:seq_insert,seq_lookup"
#   BENCH_VS_WORKLOADS="rand_insert ..."  workloads of the vs-bcachefs rows (all nine)
#   BENCH_VS_NOTE="..."     one more note under the vs-bcachefs table
#   BENCH_VS_TIMEOUT=30000  seconds the vs-bcachefs guest may run
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# The commit the module was just built from (the tree is shared: say so if
# its sources had changes not committed).
source_commit() {
	local commit
	commit=$(git -C "$SIXFS_ROOT" rev-parse --short HEAD)
	[ -z "$(git -C "$SIXFS_ROOT" status --porcelain -- rust Kbuild include)" ] || commit+=" with uncommitted changes"
	echo "$commit"
}

what=${BENCH:-all}
count=${BENCH_COUNT:-2M}
sizes=${BENCH_BTREE_SIZES:-10K 100K 1M 10M}
more_sizes=${BENCH_BTREE_MORE_SIZES:-10K 100K 1M}
mounted_sizes=${BENCH_MOUNTED_SIZES:-10K 100K 1M}
anchor=$SIXFS_BUILD/anchor-perf/sixfs_anchor.ko
out=$SIXFS_BUILD/bench
results=$SIXFS_ROOT/bench/results
mkdir -p "$out" "$results"

# btree_table LOG ANCHOR NAME TITLE NOTE...: the table and plot of one run;
# ANCHOR "-" tabulates the other workloads, sixfs's alone, without a plot.
btree_table() {
	local log=$1 anchor=$2 name=$3 title=$4 note
	shift 4
	local notes=() args=(--workloads more)
	if [ "$anchor" != - ]; then
		args=(--anchor "$anchor" --svg "$results/$name.svg")
		set -- "$@" "Plot: $name.svg."
	fi
	for note in "$@"; do notes+=(--note "$note"); done
	python3 "$SIXFS_ROOT/scripts/bench-btree-table.py" "$log" "${args[@]}" --title "$title" \
		--command "make bench (BENCH=$what BENCH_BTREE_SIZES=\"$sizes\" BENCH_BTREE_MORE_SIZES=\"$more_sizes\")" \
		"${notes[@]}" >"$results/$name.md"
	cat "$results/$name.md"
}

if [ "$what" = all ] || [ "$what" = locks ]; then
	"$SIXFS_ROOT/scripts/run-guest.sh" -f perf -o "$out/guest-locks" -t 3000 -a "$anchor" \
		-- sh /sixfs/bench-locks.sh "$count" | tee "$out/locks.log"
	python3 "$SIXFS_ROOT/scripts/bench-table.py" locks "$out/locks.log" \
		--command "make bench (BENCH_COUNT=$count)" \
		--accel "$(cat "$out/guest-locks/accel")" >"$results/six-kernel.md"
	cat "$results/six-kernel.md"
fi

if [ "$what" = all ] || [ "$what" = btree ]; then
	# 10^7 keys of both trees need a few GiB.
	"$SIXFS_ROOT/scripts/run-guest.sh" -f perf -m 8G -o "$out/guest-btree" -t 30000 -a "$anchor" \
		-- sh /sixfs/bench-btree.sh $sizes | tee "$out/btree.log"
	btree_table "$out/btree.log" maple btree-kernel "Btree benchmark (kernel)" \
		"Perf kernel under QEMU ($(cat "$out/guest-btree/accel")), 2 vCPUs, one boot, one run per row; sixfs nodes of 256 KiB." \
		"The maple tree (the kernel's in-memory B-tree) runs the same operations through sixfs_anchor.ko." \
		"bcachefs's published figures for reference (native Ryzen 5950X, 10M keys, 1 thread): rand_insert 1480 ns, rand_lookup 736 ns."
fi

if [ "$what" = all ] || [ "$what" = btree-more ]; then
	"$SIXFS_ROOT/scripts/run-guest.sh" -f perf -m 4G -o "$out/guest-btree-more" -t 20000 \
		-- sh /sixfs/bench-btree-more.sh $more_sizes | tee "$out/btree-more.log"
	btree_table "$out/btree-more.log" - btree-kernel-more "Btree benchmark, other workloads (kernel)" \
		"Perf kernel under QEMU ($(cat "$out/guest-btree-more/accel")), 2 vCPUs, one boot, one run per row; sixfs nodes of 256 KiB." \
		"rand_insert_multi inserts random keys 8 per transaction; rand_mixed looks up random positions and updates every fourth key found; rand_delete deletes the random keys; seq_overwrite rewrites every key in order, a commit per key; seq_delete deletes them in order. Each runs on a fresh tree, filled untimed with the keys it needs."
fi

if [ "$what" = all ] || [ "$what" = mounted ]; then
	# A fresh filesystem with 256 KiB nodes (mkfs's default) on a sparse
	# image large enough for the largest tree and its copies, and a raw
	# scratch disk of the same kind for dd.
	disk=$out/mounted.img raw=$out/raw.img
	rm -f "$disk" "$raw"
	truncate -s 4G "$disk"
	truncate -s 512M "$raw"
	(cd "$SIXFS_ROOT/tools" && cargo run --quiet --release -p sixfs -- mkfs -q -L bench "$disk")
	workloads=${BENCH_WORKLOADS:-} io_keys=${BENCH_MOUNTED_IO_KEYS:-}
	"$SIXFS_ROOT/scripts/run-guest.sh" -f perf -m 4G -o "$out/guest-mounted" -t 30000 \
		-d "$disk" -d "$raw" -- env BENCH_WORKLOADS="$workloads" BENCH_MOUNTED_IO_KEYS="$io_keys" \
		sh /sixfs/bench-mounted.sh $mounted_sizes |
		tee "$out/mounted.log"
	python3 "$SIXFS_ROOT/scripts/bench-mounted-table.py" "$out/mounted.log" \
		--title "perf_test on a mounted sixfs (kernel)" \
		--command "make bench (BENCH=mounted BENCH_MOUNTED_SIZES=\"$mounted_sizes\"${workloads:+ BENCH_WORKLOADS=\"$workloads\"}${io_keys:+ BENCH_MOUNTED_IO_KEYS=$io_keys})" \
		--note "Perf kernel under QEMU ($(cat "$out/guest-mounted/accel")), 2 vCPUs, 4 GiB, one boot, one run per row; sixfs at commit $(source_commit); $(date -u +%Y-%m-%d); nodes of 256 KiB; the disks are sparse image files on the host (virtio-blk)." \
		--note "Each row: the workload on the mounted filesystem's test btree (emptied first, untimed), then on a fresh in-memory btree; workloads that need keys fill the tree untimed first. The mounted tree's node cache holds an eighth of the guest's memory (512 MiB; at most an eighth of the device's node slots); nodes beyond it are written back and read through the device." \
		--note "With the journal: a commit's keys are copied into the open journal entry, written when it fills or every second (journal_flush_delay); nodes are written by checkpoints: reclaims when the journal is half full (leaving dirty the leaves whose commits are all in the newest quarter of the ring), whole ones when the node cache is over its bound. No row ends with a sync." \
		${BENCH_MOUNTED_NOTE:+--note "$BENCH_MOUNTED_NOTE"} >"$results/btree-mounted.md"
	cat "$results/btree-mounted.md"
fi

if [ "$what" = all ] || [ "$what" = vs-bcachefs ]; then
	# A fresh sixfs as for the mounted rows, and a fresh copy of the
	# bcachefs image: perf_test leaves keys behind, so a copy serves one run.
	disk=$out/vs-sixfs.img bdisk=$out/vs-bcachefs.img
	image=${BCACHEFS_IMAGE-$SIXFS_ROOT/../shared/anchors/bcachefs-8G.img.zst}
	vs_sizes=${BENCH_VS_SIZES:-1M} vs_workloads=${BENCH_VS_WORKLOADS:-}
	if [ -n "${BCACHEFS_IMAGE-}" ] && [ ! -f "$image" ]; then
		die "BCACHEFS_IMAGE=$image: no such file"
	fi
	if [ -f "$image" ]; then image=$(realpath "$image"); else image=; fi
	rm -f "$disk" "$bdisk"
	truncate -s 4G "$disk"
	(cd "$SIXFS_ROOT/tools" && cargo run --quiet --release -p sixfs -- mkfs -q -L bench "$disk")
	disks=(-d "$disk")
	if [ -n "$image" ]; then
		case $image in
		*.zst) zstd -q -d --sparse -f "$image" -o "$bdisk" ;;
		*) cp --sparse=always "$image" "$bdisk" ;;
		esac
		# zstd keeps the source's mode: the anchors are read-only.
		chmod u+w "$bdisk"
		disks+=(-d "$bdisk")
	fi
	commit=$(source_commit)
	start=$(date +%s) guest_rc=0
	# A guest that fails or times out still leaves the rows it finished:
	# tabulate them, then fail.
	"$SIXFS_ROOT/scripts/run-guest.sh" -f perf -m 4G -o "$out/guest-vs-bcachefs" -t "${BENCH_VS_TIMEOUT:-30000}" \
		"${disks[@]}" -- env BENCH_WORKLOADS="$vs_workloads" sh /sixfs/bench-vs-bcachefs.sh $vs_sizes |
		tee "$out/vs-bcachefs.log" || guest_rc=$?
	minutes=$((($(date +%s) - start + 59) / 60))
	accel=$(cat "$out/guest-vs-bcachefs/accel")
	# The node cache's bound as the mount reported it (mkfs's nodes are 256 KiB).
	bound=$(sed -n 's/^vs: sixfs stats: cached [0-9]* (bound \([0-9]*\)).*/\1/p' "$out/vs-bcachefs.log" | head -1)
	sixfs_disk="sixfs a fresh mkfs.sixfs of 4 GiB (nodes of 256 KiB; a node cache bound of ${bound:-?} nodes${bound:+, $((bound / 4)) MiB})"
	sixfs_does="sixfs: reset, then the workload, which inserts the keys it needs untimed first (the same keys its insert workload writes); its threads take disjoint shares of the keys."
	notes=(--note "Perf kernel $(cat "$(kernel_out perf)/include/config/kernel.release") under QEMU ($accel), 2 vCPUs, 4 GiB, one boot, one run per row; sixfs at commit $commit; $(date -u +%Y-%m-%d); the guest ran for about $minutes min.")
	if [ -n "$image" ]; then
		bversion=$(grep -o 'bcachefs (vdb): starting version [^ ]*' "$out/guest-vs-bcachefs/dmesg.log" | head -1 | sed 's/.* //; s/:$//')
		notes+=(
			--note "Disks: virtio-blk on sparse image files on the host (cache=unsafe): $sixfs_disk; bcachefs a fresh copy of $(basename "$image") (on-disk version ${bversion:-?}, formatted with default options, mounted without options)."
			--note "Each row starts both filesystems from an empty tree, then bcachefs runs the row's line, then sixfs. bcachefs: its seq_delete first (as its own ktest perf tests do between runs), then for the workloads that need keys its own rand_insert or seq_insert with the row's count and threads (not tabulated), then the workload. $sixfs_does"
			--note "Where they differ: bcachefs's random keys come from get_random_bytes, sixfs's from xorshift64*. bcachefs's seq_* threads each start at key 0 and take count/threads keys, so with 2 threads both insert the same half and seq_lookup, seq_overwrite and seq_delete (a delete_range) each walk the whole tree of count/2 keys: as many steps as sixfs's disjoint halves of count keys, on the same keys. rand_delete: bcachefs deletes the first key at or after a random position, sixfs the keys it inserted. Neither waits for its journal at commit (both write it every second by default, journal_flush_delay); no row ends with a sync."
		)
	else
		notes+=(
			--note "Disks: virtio-blk on a sparse image file on the host (cache=unsafe): $sixfs_disk."
			--note "$sixfs_does"
			--note "No bcachefs column: no image was given (BCACHEFS_IMAGE), so sixfs ran alone."
		)
	fi
	if [ "$guest_rc" != 0 ]; then
		notes+=(--note "The guest failed (exit $guest_rc, see build/bench/guest-vs-bcachefs/): rows it did not finish are missing.")
	fi
	# A run that measured nothing leaves the last table as it was.
	grep -q '^vs sixfs ' "$out/vs-bcachefs.log" || die "vs-bcachefs: the guest measured nothing (exit $guest_rc)"
	python3 "$SIXFS_ROOT/scripts/bench-vs-table.py" "$out/vs-bcachefs.log" \
		--title "perf_test on a mounted sixfs beside a mounted bcachefs (kernel)" \
		--command "make bench (BENCH=vs-bcachefs BENCH_VS_SIZES=\"$vs_sizes\"${vs_workloads:+ BENCH_VS_WORKLOADS=\"$vs_workloads\"}${image:+ BCACHEFS_IMAGE=$image})" \
		"${notes[@]}" ${BENCH_VS_NOTE:+--note "$BENCH_VS_NOTE"} >"$results/btree-vs-bcachefs.md"
	cat "$results/btree-vs-bcachefs.md"
	[ "$guest_rc" = 0 ] || die "vs-bcachefs: the guest failed (exit $guest_rc)"
fi

if [ "$what" = all ] || [ "$what" = user ]; then
	(cd "$SIXFS_ROOT/tools" && cargo run --quiet --release -p sixfs-bench -- six) | tee "$out/user-six.log"
	{
		echo "# Six lock benchmark (userspace)"
		echo
		echo "Native, $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))."
		echo
		echo '```'
		cat "$out/user-six.log"
		echo '```'
	} >"$results/six-user.md"
	user_sizes=$(echo "$sizes" | tr ' ' ',')
	user_more_sizes=$(echo "$more_sizes" | tr ' ' ',')
	(cd "$SIXFS_ROOT/tools" && cargo run --quiet --release -p sixfs-bench -- btree \
		--sizes "$user_sizes" --more-sizes "$user_more_sizes" --tries 3) | tee "$out/user-btree.log"
	machine="Native, $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')); best of 3 runs per row, sixfs's and the anchor's alternating; sixfs nodes of 256 KiB."
	btree_table "$out/user-btree.log" btreemap btree-user "Btree benchmark (userspace)" "$machine" \
		"std's BTreeMap runs the same operations on the same keys; with 2 threads it sits behind a parking_lot RwLock."
	btree_table "$out/user-btree.log" - btree-user-more "Btree benchmark, other workloads (userspace)" "$machine"
fi
