#!/bin/bash
# Paired A/B of group commit against fs.promises, 16 writers on ext4:
#   tools/bench/commits-ab/pair.sh ROUNDS SECONDS BEFORE_INDEX AFTER_INDEX [DIR] > out.txt
#   python3 tools/bench/commits-ab/sum.py out.txt
# BEFORE_INDEX/AFTER_INDEX: dist/src/index.js of two builds (e.g. main's
# checkout and a branch's). Per round: fs.promises, then before and after
# (order swapped every round) for write + groupDatasync and for groupWrite,
# each runner in a fresh process on a fresh file in DIR (default /var/tmp).
R=$1; S=$2; B=$3; A=$4; D=${5:-/var/tmp}
ONE="$(dirname "$0")/one.cjs"
run() { echo "$1 $2 $(node "$ONE" "$3" "$2" "$D/commits-ab.$$" "$S")"; }
for i in $(seq 1 "$R"); do
  echo "# round $i load $(cut -d' ' -f1-3 /proc/loadavg)"
  run fs fs fs
  for st in group groupWrite; do
    if [ $((i % 2)) = 1 ]; then run before $st "$B"; run after $st "$A"; else run after $st "$A"; run before $st "$B"; fi
  done
done
