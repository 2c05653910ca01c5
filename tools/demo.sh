#!/bin/bash
# tools/demo.sh: what `make demo` runs inside the VM (tools/vm/run).
set -e
echo "== /dev/cr"
ls -l /dev/cr
echo "== crctl info-module"
crctl info-module
