#!/bin/bash
# tools/demo.sh: what `make demo` runs inside the VM (tools/vm/run).
# A live program is checkpointed, killed, and restarted from its image:
# it continues where it was.
set -e
cd /tmp
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "the module"
ls -l /dev/cr
crctl info-module

say "a live program: a counter printing a number every 20 ms"
counter | sed -u 's/^/    original: /' &
sleep 0.3
PID=$(pgrep -x counter)
echo "    (counter is pid $PID)"

say "crctl checkpoint --kill -o /tmp/counter.img $PID"
crctl checkpoint --kill -o /tmp/counter.img "$PID"
sleep 0.3
echo "    pid $PID is gone: $(kill -0 "$PID" 2>/dev/null && echo alive || echo killed)"

say "crctl info /tmp/counter.img (abridged)"
crctl info /tmp/counter.img | grep -E '^(header|task|regs|cwd|fd|pages|image)|heap|stack|counter @' | sed 's/^/    /'

say "crctl restart -i /tmp/counter.img: it continues from where it was"
timeout 0.3 crctl restart -i /tmp/counter.img | sed -u 's/^/    restored: /' || true

say "the same through a pipe and gzip: crctl checkpoint -o - | gzip | gunzip | crctl restart -i -"
counter | sed -u 's/^/    original: /' &
sleep 0.3
PID=$(pgrep -x counter)
crctl checkpoint --kill -o - "$PID" | gzip | gunzip | (timeout 0.3 crctl restart -i - | sed -u 's/^/    restored: /') || true

say "a refusal, by name: a process holding a unix socket"
holder unix > /dev/null &
sleep 0.5
crctl checkpoint -o /tmp/holder.img "$(pgrep -x holder)" || true
echo "    (and the process runs on: $(kill -0 "$(pgrep -x holder)" && echo alive))"
kill "$(pgrep -x holder)"
