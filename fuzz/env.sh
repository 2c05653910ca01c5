# fuzz/env.sh: settings shared by fuzz/setup, smoke, run and gen (sourced).
# shellcheck shell=bash

FUZZ=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CR_CACHE=${CR_CACHE:-$HOME/.cache/cr}
export CR_CACHE
CARGO_FUZZ_VERSION=0.13.2
CARGO_FUZZ=$CR_CACHE/cargo-fuzz/bin/cargo-fuzz

# Stable rustc accepts the nightly-only flags cargo-fuzz passes for a
# sanitizer (-Zsanitizer=address) with this; no nightly toolchain is needed.
export RUSTC_BOOTSTRAP=1
# The machine is shared: build modestly unless told otherwise.
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1}

# image/src/format/ has no unsafe code, so AddressSanitizer finds nothing that the
# overflow checks and bounds checks do not, at a quarter of the speed:
# the default is none. CR_FUZZ_SANITIZER=address (or leak, memory) for more.
FUZZ_SANITIZER=${CR_FUZZ_SANITIZER:-none}
# Builds live in the cache (like the rest of cr's set-up), so that a fresh
# clone, as CI has, does not rebuild libFuzzer. One directory per sanitizer.
export CARGO_TARGET_DIR=${CR_FUZZ_TARGET_DIR:-$CR_CACHE/fuzz/target-$FUZZ_SANITIZER}

# Release build with debug assertions and overflow checks, as the kernel
# has CONFIG_RUST_OVERFLOW_CHECKS (Cargo.toml's release profile says so too).
FUZZ_BUILD_ARGS=(--fuzz-dir "$FUZZ" -O -a -s "$FUZZ_SANITIZER" --target-dir "$CARGO_TARGET_DIR")

# Per-target libFuzzer settings: images up to 128 KiB (the seed images are
# up to 73 KiB), record payloads up to 16 KiB.
fuzz_target_args() { # fuzz_target_args TARGET
	case "$1" in
	validator) echo "-max_len=131072" ;;
	records) echo "-max_len=16384" ;;
	esac
	echo "-timeout=10 -rss_limit_mb=2048"
}

FUZZ_TARGETS="validator records"

# The corpus dirs of a target: new inputs go to the first (not committed),
# the seeds and the regression inputs are read only.
fuzz_corpus_dirs() { # fuzz_corpus_dirs TARGET
	mkdir -p "$FUZZ/corpus-work/$1" "$FUZZ/corpus/$1" "$FUZZ/regressions/$1"
	echo "$FUZZ/corpus-work/$1 $FUZZ/corpus/$1 $FUZZ/regressions/$1"
}

# Prints one line on how a libFuzzer run went, and on a crash what it was,
# the input (hex) and how to replay it. Fails on a crash.
fuzz_summary() { # fuzz_summary TARGET LOG EXIT-STATUS
	local t=$1 log=$2 rc=$3 last execs cov ft corp rate unit result
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
	last=$(grep -aE '^#[0-9]+' "$log" | tail -n1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$last")
	corp=$(sed -n 's/.* corp: \([^ ]*\).*/\1/p' <<< "$last")
	rate=$(sed -n 's/.* exec\/s: \([0-9]*\).*/\1/p' <<< "$last")
	corp=${corp:-?/?}
	[ "${corp#*/}" = "$corp" ] && corp="$corp/?" # fork mode: no size
	[ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<< "$last")
	unit=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n1)
	if [ "$rc" = 0 ] && [ -z "$unit" ]; then
		result=ok
	else
		result="CRASH (exit $rc)"
	fi
	printf 'fuzz: %-9s %s: %s execs (%s/s), cov %s edges, %s features, corpus %s inputs (%s)\n' \
		"$t" "$result" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp%%/*}" "${corp#*/}"
	[ "$result" = ok ] && return 0
	grep -aE "panicked at|^thread '|ERROR: libFuzzer|SUMMARY|overflow|^ +at .*/(format|lib)\.rs" "$log" |
		head -n 16 | sed 's/^/  /'
	if [ -n "$unit" ] && [ -f "$unit" ]; then
		echo "  input: $unit ($(stat -c %s "$unit") bytes), hex:"
		od -An -v -tx1 "$unit" | tr -d ' \n' | head -c 2048 | fold -w 128 | sed 's/^/    /'
		echo
		echo "  replay: fuzz/run replay $t $unit"
	else
		tail -n 30 "$log" | sed 's/^/  /'
	fi
	return 1
}

# The small crates are built under a hash of their path, so each clone (CI
# works in a fresh one) adds its own builds to the cached build directory:
# keep the newest four of each and drop the rest, with their fingerprints.
fuzz_prune_builds() {
	local deps=$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/deps name d h
	[ -d "$deps" ] || return 0
	for name in validator records cr_image_fuzz cr_image; do
		# shellcheck disable=SC2012 # names are ours: name-HASH.d
		ls -t "$deps/$name"-*.d 2> /dev/null | tail -n +5 | while read -r d; do
			h=${d%.d}
			h=${h##*-}
			rm -rf "$deps/$name-$h" "$deps/$name-$h".* "$deps/lib$name-$h".* \
				"$deps"/../.fingerprint/*-"$h"
		done
	done
}
