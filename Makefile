# SPDX-License-Identifier: GPL-2.0
#
# cr: in-kernel checkpoint/restart.  See README.md.
#
#   make            build cr.ko, crctl and the selftests
#   make check      set up (cached), build, lint and run every test in a VM
#   make demo       set up (cached), boot the VM and show cr at work
#   make bench      print checkpoint/restart throughput figures from the VM
#
# Bring your own kernel: make KDIR=/lib/modules/$(uname -r)/build
# (a Rust-enabled 7.2 build tree; set RUSTC/BINDGEN as it was built with).

TOP := $(CURDIR)
CR_CACHE ?= $(HOME)/.cache/cr
export CR_CACHE

# Without KDIR, tools/setup provides (and caches) the test kernel.
ifeq ($(KDIR),)
KDIR_FROM_SETUP := 1
KDIR = $(shell cat $(TOP)/.kdir 2>/dev/null)
endif
KSRC ?= $(shell readlink -f $(KDIR)/source 2>/dev/null || echo $(KDIR))

RUSTC ?= /usr/bin/rustc
# CR_LLVM=-19: the kernel was built with clang-19 (see tools/env.sh).
KMAKE = $(MAKE) -C $(KDIR) M=$(TOP) RUSTC=$(RUSTC) RUSTDOC=/usr/bin/rustdoc \
	CLIPPY_DRIVER=/usr/bin/clippy-driver \
	BINDGEN=$(CR_CACHE)/bindgen/bin/bindgen $(if $(CR_LLVM),LLVM=$(CR_LLVM))

all: module crctl selftests

setup:
ifdef KDIR_FROM_SETUP
	@tools/setup > .kdir.tmp && mv .kdir.tmp .kdir
endif

module: setup
	$(KMAKE) modules

# The module lint: the layers of rust/, a clean build under clippy, and rustfmt.
lint: setup
	tools/check-layers
	$(KMAKE) clean >/dev/null
	$(KMAKE) CLIPPY=1 modules
	rustfmt --check --edition 2021 rust/cr_main.rs image/src/lib.rs
	cd tools/crctl && cargo fmt --check
	cd tools/crctl && cargo fmt --check

crctl:
	cd tools/crctl && cargo build --release --locked

selftests: setup
	$(MAKE) -C selftests KSRC=$(KSRC)
	$(MAKE) -C tools/bench

check:
	tools/check

# The same on a debug kernel (KFENCE, SLUB debug, kmemleak, lockdep,
# atomic-sleep checks, UBSAN; selftests/config.debug), with the long
# hostile-image run. Builds and caches a second kernel the first time.
check-debug:
	CR_EXTRA_CONFIG=selftests/config.debug CR_HOSTILE_N=$${CR_HOSTILE_N:-10000} tools/check

# The debug kernel with KASAN too: built with clang-19, as Rust and KASAN
# together need a clang kernel (a third cached kernel).
check-kasan:
	CR_LLVM=-19 CR_EXTRA_CONFIG="selftests/config.debug selftests/config.kasan" \
		CR_HOSTILE_N=$${CR_HOSTILE_N:-10000} tools/check

demo: all
	tools/vm/run -- tools/demo.sh

# Figures, not a test: see tools/bench/cr_bench.c.
bench: all
	tools/vm/run --memory 3G -- tools/bench.sh

clean:
	-$(KMAKE) clean
	cd tools/crctl && cargo clean
	cd image && cargo clean
	$(MAKE) -C selftests clean
	rm -f .kdir

.PHONY: all setup module lint crctl selftests check check-debug check-kasan demo bench clean
