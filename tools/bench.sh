#!/bin/bash
# tools/bench.sh: what `make bench` runs inside the VM (tools/vm/run).
set -e
cr_bench "${CR_BENCH_MIB:-256}" 2>&1
