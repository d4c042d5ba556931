#!/usr/bin/env bash
# Runs one libFuzzer harness for a bounded time over a fresh copy of its committed seed corpus
# (libFuzzer adds what it finds to the first corpus folder it is given; the committed one must not
# change). Crash, timeout and leak inputs land in the run folder, named in libFuzzer's output.
#   run_fuzzer.sh HARNESS SEED_CORPUS RUN_DIR SECONDS [extra libFuzzer flags...]
set -euo pipefail
harness=$1 seeds=$2 run_dir=$3 seconds=$4
shift 4

rm -rf "$run_dir"
mkdir -p "$run_dir/corpus"
cp -R "$seeds/." "$run_dir/corpus/"
# -timeout: one input running longer than 10 s is a finding (a catastrophic regex, a quadratic
# loop); -rss_limit_mb: a parser that allocates for sizes the input only claims is one too.
exec "$harness" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$run_dir/" "$@" "$run_dir/corpus"
