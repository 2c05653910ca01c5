# tools/env.sh: shared settings, sourced by the setup, build and VM scripts.
KVER=7.2.12
KVER_MAJOR=7.2
KDEB_VERSION=7.2.12-1~bpo13+1
BINDGEN_VERSION=0.73.2
VNG_VERSION=1.42
CR_CACHE=${CR_CACHE:-$HOME/.cache/cr}
export LIBCLANG_PATH=${LIBCLANG_PATH:-/usr/lib/llvm-19/lib}
# CR_LLVM=-19 builds the kernel (and so the module) with Debian's clang-19
# and lld-19 instead of GCC: KASAN and Rust together need a clang kernel.
CR_LLVM=${CR_LLVM:-}
KMAKE_ARGS="RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc BINDGEN=$CR_CACHE/bindgen/bin/bindgen${CR_LLVM:+ LLVM=$CR_LLVM}"
CR_EXTRA_CONFIG=${CR_EXTRA_CONFIG:-}
# Extra config fragments, as absolute paths (relative ones are from $TOP).
cr_extra_configs() {
	local f
	for f in $CR_EXTRA_CONFIG; do
		case "$f" in /*) echo "$f" ;; *) echo "$TOP/$f" ;; esac
	done
}

# The build directory is keyed by kernel version, the config fragments and
# the compiler.
cr_kdir() {
	local h
	h=$({ cat "$TOP/selftests/config" $(cr_extra_configs)
	      [ -z "$CR_LLVM" ] || echo "LLVM=$CR_LLVM"; } | sha256sum | cut -c1-12)
	echo "$CR_CACHE/build/linux-$KVER-$h"
}
