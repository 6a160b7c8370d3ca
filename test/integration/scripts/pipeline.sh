#!/usr/bin/env bash
# The integration tests' pipeline, run as `pipeline.sh <docId> <patientId> <service>`.
#
# What it does is decided per document by files the test writes into
# $LOMI_TEST_CTL (which is read-only inside the sandbox, so every write here
# is best effort):
#   <doc>.exit   the exit code (default 0)
#   <doc>.fork   start a background grandchild, `sleep` renamed lomi-gc-<file contents>
#   <doc>.gate   wait until <doc>.go exists before exiting (a hang until then)
# It prints a start line (the test reads it back from run.log.<attempt>) and
# writes its pid to <doc>.<attempt>.pid (the grandchild's to .gcpid).
set -u
doc="$1"
patient="$2"
service="$3"
ctl="${LOMI_TEST_CTL:?LOMI_TEST_CTL not set}"
attempt="${LOMI_ATTEMPT:-?}"

echo "pipeline start doc=$doc patient=$patient service=$service attempt=$attempt run=${LOMI_RUN_ID:-?}"
echo "base=${LOMI_BASE_DIR:-} user=${LOMI_USER_DIR:-}"
echo "$$" 2>/dev/null >"$ctl/$doc.$attempt.pid" || true

if [ -e "$ctl/$doc.fork" ]; then
  token=$(cat "$ctl/$doc.fork")
  bash -c "exec -a lomi-gc-$token sleep 100000" &
  echo "grandchild started"
  echo "$!" 2>/dev/null >"$ctl/$doc.$attempt.gcpid" || true
fi

if [ -e "$ctl/$doc.gate" ]; then
  echo "waiting for $doc.go"
  while [ ! -e "$ctl/$doc.go" ]; do sleep 0.05; done
fi

code=$(cat "$ctl/$doc.exit" 2>/dev/null || echo 0)
echo "pipeline end doc=$doc exit=$code"
exit "$code"
