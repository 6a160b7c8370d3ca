#!/bin/bash
# Test pipeline for the Slurm executor. Called as: pipeline.sh <docId> <patientId> <service>
# LOMI_TEST_RUNS: file that gets one line per start (to prove nothing runs twice)
# LOMI_TEST_WAIT_FILE: wait until this file exists before exiting
# LOMI_TEST_CHILDREN: start this many background sleeps, pids into LOMI_TEST_PIDS, then wait for ever
# LOMI_TEST_SLEEP_MS: sleep this long before exiting
# LOMI_TEST_EXIT: exit code (default 0)
echo "pipeline $1 patient $2 service $3 on $(hostname) job ${SLURM_JOB_ID:-none}"
[ -n "$LOMI_TEST_RUNS" ] && echo "start $1" >> "$LOMI_TEST_RUNS"
if [ -n "$LOMI_TEST_CHILDREN" ]; then
  for _ in $(seq "$LOMI_TEST_CHILDREN"); do sleep 600 & echo $! >> "$LOMI_TEST_PIDS"; done
  echo $$ >> "$LOMI_TEST_PIDS"
  while true; do sleep 0.2; done
fi
if [ -n "$LOMI_TEST_WAIT_FILE" ]; then
  while [ ! -e "$LOMI_TEST_WAIT_FILE" ]; do sleep 0.1; done
fi
if [ -n "$LOMI_TEST_SLEEP_MS" ]; then
  sleep "$(printf '%d.%03d' $((LOMI_TEST_SLEEP_MS / 1000)) $((LOMI_TEST_SLEEP_MS % 1000)))"
fi
if [ -n "$LOMI_TEST_WRITE" ]; then
  echo "written by $1" > "$LOMI_BASE_DIR/$2/$LOMI_TEST_WRITE"
fi
echo "pipeline $1 exits ${LOMI_TEST_EXIT:-0}"
exit "${LOMI_TEST_EXIT:-0}"
