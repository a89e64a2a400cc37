#!/usr/bin/env bash
# Stop the single-node Slurm cluster started by .ci/slurm/start.sh: cancels every job
# still queued or running, then stops slurmd, slurmctld and munged through the pid files
# they wrote. Safe to call when nothing (or only part) is running; exits non-zero only
# if a daemon does not stop.
set -uo pipefail

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
log() { echo "slurm/stop.sh: $*"; }

if [ -s /run/slurm/slurmctld.pid ] && command -v scancel >/dev/null; then
    $SUDO scancel --quiet --state=PENDING,RUNNING,SUSPENDED --user="$(id -un)" 2>/dev/null || true
fi
status=0
for pidfile in /run/slurm/slurmd.pid /run/slurm/slurmctld.pid /run/munge/munged.pid; do
    [ -s "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    name=$(basename "$pidfile" .pid)
    if ! kill -0 "$pid" 2>/dev/null; then
        $SUDO rm -f "$pidfile"; continue
    fi
    log "stopping $name (pid $pid)"
    $SUDO kill -TERM "$pid"
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$pid" 2>/dev/null; then
        log "ERROR: $name (pid $pid) did not stop within 10s; killing it"
        $SUDO kill -KILL "$pid"
        status=1
    fi
    $SUDO rm -f "$pidfile"
done
exit $status
