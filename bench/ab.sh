#!/usr/bin/env bash
# A/B of two builds in one run: runs a bench class with classpath A, then B, alternated for ROUNDS rounds,
# so both see the same machine. A and B are directories of jars (e.g. a copy of bench/target/lib with one
# service jar swapped for the previous commit's).
#   bench/ab.sh 3 /tmp/libA /tmp/libB dev.tally.bench.PipelineBench 50000 500 4
set -euo pipefail
cd "$(dirname "$0")/.."
source bin/jdk.sh
rounds=$1 a=$2 b=$3
shift 3
# The bench jar's manifest names lib/*.jar beside it: run a copy, so each side loads only its own jars.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp bench/target/tally-bench-0.1.0-SNAPSHOT.jar "$tmp/bench.jar"
for r in $(seq 1 "$rounds"); do
  for v in A B; do
    lib=$a
    [ "$v" = B ] && lib=$b
    echo "=== round $r $v (load $(cut -d' ' -f1-3 /proc/loadavg))"
    java -XX:+UseSerialGC -cp "$tmp/bench.jar:$lib/*" "$@"
  done
done
