# SPDX-License-Identifier: GPL-2.0
# sixfs: the entry points. See README.md and Documentation/testing.rst.
#
#   make run      install what is missing, build, boot QEMU and show sixfs
#   make check    every test (cargo, KUnit, kselftests); last line "N passed, N failed"
#   make fuzz     the parser fuzzers, FUZZ_SECS (600) seconds each, or only
#                 FUZZ_TARGETS; make check runs them FUZZ_SECS (15) each
#   make crash    the userspace power-cut test over CRASH_SEEDS (1000)
#                 workloads from CRASH_SEED (0); make check runs 16
#   make bench    benchmarks on the perf kernel; tables in bench/results/
#   make profile  perf record of one perf_test workload on a mounted sixfs
#                 in the perf guest (PROFILE_WORKLOAD, PROFILE_KEYS,
#                 PROFILE_THREADS); reports in build/profile/
#   make module   build sixfs.ko for FLAVOUR (debug or perf), or against
#                 your own configured kernel tree with KDIR=/path/to/kernel
#   make install  install sixfs.ko (modules_install: INSTALL_MOD_PATH, KDIR)
#                 and the tools (sixfs, mkfs.sixfs, fsck.sixfs: DESTDIR, PREFIX)
#   make kernel   build the FLAVOUR test kernel (first time only)
#   make clippy   build the module with clippy (the kernel's CLIPPY=1)
#   make fmt      format all Rust sources
#
# Kbuild (not this file) describes the module to the kernel build system.

FLAVOUR ?= debug
# A configured and built kernel tree (or its O= build directory) to build
# the module against instead of the project's own kernels.
KDIR ?=
# Seconds each parser fuzzer runs (scripts/fuzz.sh): 15 in make check, 600
# in make fuzz unless set; FUZZ_TARGETS picks targets for make fuzz.
FUZZ_SECS ?=
FUZZ_TARGETS ?=
export CLIPPY KDIR INSTALL_MOD_PATH DESTDIR PREFIX

.PHONY: all deps kernel perf-kernel module install selftests tools run check fuzz crash bench profile clippy fmt clean

all: module tools

deps:
	@scripts/install-deps.sh

kernel: deps
	@scripts/build-kernel.sh $(FLAVOUR)

ifeq ($(KDIR),)
module: kernel
else
module:
endif
	@scripts/build-module.sh $(FLAVOUR)

install: module
	@scripts/install-module.sh $(FLAVOUR)
	@scripts/install-tools.sh

# make check also builds the module for the perf kernel: without debug
# checks and KUnit the compiler emits other code (objtool once refused a
# panic call there that the debug build did not have).
perf-kernel: deps
	@scripts/build-kernel.sh perf

selftests: kernel
	@scripts/build-selftests.sh

tools: deps
	@cd tools && cargo build --workspace --quiet

run: module tools
	@scripts/run.sh

check: FLAVOUR = debug
check: module selftests perf-kernel
	@SIXFS_FUZZ_SECS=$(or $(FUZZ_SECS),15) scripts/check.sh

fuzz: deps
	@SIXFS_FUZZ_SECS=$(or $(FUZZ_SECS),600) scripts/fuzz.sh $(FUZZ_TARGETS)

CRASH_SEEDS ?= 1000
CRASH_SEED ?= 0
crash: deps
	@cd tools && SIXFS_CRASH_SEEDS=$(CRASH_SEEDS) SIXFS_CRASH_SEED=$(CRASH_SEED) \
		cargo test -p sixfs-core --lib every_power_cut -- --nocapture

bench: deps
	@scripts/build-kernel.sh perf
	@scripts/build-module.sh perf
	@scripts/build-anchor.sh
	@scripts/bench.sh

# The perf kernel and module make bench builds, and the workload of
# scripts/profile-guest.sh.
PROFILE_WORKLOAD ?= rand_insert
PROFILE_KEYS ?= 1M
PROFILE_THREADS ?= 1
profile: deps
	@scripts/build-kernel.sh perf
	@scripts/build-module.sh perf
	@PROFILE_WORKLOAD=$(PROFILE_WORKLOAD) PROFILE_KEYS=$(PROFILE_KEYS) PROFILE_THREADS=$(PROFILE_THREADS) \
		scripts/profile-guest.sh

clippy: kernel
	@CLIPPY=1 scripts/build-module.sh $(FLAVOUR)

fmt:
	@rustfmt $$(git ls-files 'rust/*.rs' 'tools/*.rs')

clean:
	rm -rf build/module-* build/anchor-* build/selftests build/check build/guest-* build/run build/bench build/profile build/fuzz tools/target
