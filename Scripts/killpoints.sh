#!/usr/bin/env bash
# The whole kill-point and fault-injection campaign (Scripts/test.sh runs a short seeded sample):
# SIGKILL at PGKEEP_KILLPOINTS seeded instants per command and at each commit call, and
# PGKEEP_FAULTS_PER_SYSCALL injected EIO/ENOSPC faults per syscall, then the figures.
#
#   Scripts/killpoints.sh                       # 20 instants per command, 40 faults per syscall
#   PGKEEP_KILLPOINTS=50 PGKEEP_KILLPOINT_SEED=7 Scripts/killpoints.sh
set -euo pipefail
cd "$(dirname "$0")/.."
report=$(mktemp /tmp/pgkeep-killpoints.XXXXXX)
export PGKEEP_KILLPOINTS=${PGKEEP_KILLPOINTS:-20} PGKEEP_FAULTS_PER_SYSCALL=${PGKEEP_FAULTS_PER_SYSCALL:-40}
export PGKEEP_KILLPOINT_REPORT=$report
status=0
Scripts/test.sh --filter "KillPointTests|AtomicRestoreTests|FaultInjectionTests|RaceTests" || status=$?
echo
echo "== kill points and injected faults (seed ${PGKEEP_KILLPOINT_SEED:-20261127}): outcomes per command"
awk -F'\t' '{ n[$1]++; if ($3 == "LOST") lost[$1]++ }
  END { for (c in n) printf "  %-48s %5d tried  %3d lost or half-written\n", c, n[c], lost[c] + 0 }' "$report" | sort
awk -F'\t' '{ n++; if ($3 == "LOST") l++ } END { printf "  %-48s %5d tried  %3d lost or half-written\n", "total", n, l + 0 }' "$report"
rm -f "$report"
exit "$status"
