#!/usr/bin/env bash
# Runs one libFuzzer harness (through run_fuzzer.sh, over a fresh copy of its seed corpus) until
# it has used CPU_SECONDS of CPU time, then stops it with SIGINT so that libFuzzer prints its
# final stats. Wall time is no measure on a shared machine; the issue counts CPU-minutes.
#   run_cpu_budget.sh HARNESS SEED_CORPUS RUN_DIR CPU_SECONDS [extra libFuzzer flags...]
set -euo pipefail
harness=$1 seeds=$2 run_dir=$3 budget=$4
shift 4
here=$(dirname "$0")
"$here/run_fuzzer.sh" "$harness" "$seeds" "$run_dir" 1000000 "$@" &
pid=$!
ticks=$(getconf CLK_TCK)
used=0
while kill -0 "$pid" 2>/dev/null; do
  sleep 5
  # Fields 14 and 15 of /proc/PID/stat: user and system time in clock ticks.
  read -r utime stime < <(awk '{print $14, $15}' "/proc/$pid/stat" 2>/dev/null || echo "0 0")
  used=$(( (utime + stime) / ticks ))
  if (( used >= budget )); then
    kill -INT "$pid"
    break
  fi
done
status=0
wait "$pid" || status=$?
echo "run_cpu_budget: $(basename "$harness") used ${used} CPU seconds (budget ${budget}); exit ${status}"
# Stopped by the SIGINT above, libFuzzer exits with its -interrupted_exitcode (72); anything else
# but 0 is a finding (a crash, a leak, a timeout), whose input lies in RUN_DIR.
if (( status == 72 || status == 0 )); then exit 0; fi
exit "$status"
