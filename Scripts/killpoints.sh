#!/usr/bin/env bash
# The whole kill-point and fault-injection campaign (Scripts/test.sh runs a short seeded sample):
# SIGKILL at PGKEEP_KILLPOINTS seeded instants per command and at each commit call, and
# PGKEEP_FAULTS_PER_SYSCALL injected EIO/ENOSPC faults per syscall (every call up to that many,
# else that many spread evenly), PGKEEP_RACE_ROUNDS race rounds, then the figures.
#
#   Scripts/killpoints.sh                       # 20 instants per command, up to 200 faults per syscall
#   PGKEEP_KILLPOINTS=50 PGKEEP_KILLPOINT_SEED=7 Scripts/killpoints.sh
set -euo pipefail
cd "$(dirname "$0")/.."
report=$(mktemp /tmp/pgkeep-killpoints.XXXXXX)
export PGKEEP_KILLPOINTS=${PGKEEP_KILLPOINTS:-20} PGKEEP_FAULTS_PER_SYSCALL=${PGKEEP_FAULTS_PER_SYSCALL:-200}
export PGKEEP_RACE_ROUNDS=${PGKEEP_RACE_ROUNDS:-20}
export PGKEEP_KILLPOINT_REPORT=$report
status=0
Scripts/test.sh --filter "${PGKEEP_CAMPAIGN_FILTER:-KillPointTests|AtomicRestoreTests|FaultInjectionTests|RaceTests|anUploadKilled}" || status=$?
echo
echo "== kill points and injected faults (seed ${PGKEEP_KILLPOINT_SEED:-20261127}): outcomes per command"
awk -F'\t' '{ n[$1]++; if ($3 == "LOST") lost[$1]++ }
  END { for (c in n) printf "  %-48s %5d tried  %3d lost or half-written\n", c, n[c], lost[c] + 0 }' "$report" | sort
awk -F'\t' '{ n++; if ($3 == "LOST") l++ } END { printf "  %-48s %5d tried  %3d lost or half-written\n", "total", n, l + 0 }' "$report"
rm -f "$report"
exit "$status"
