#!/usr/bin/env bash
# Start a single-node Slurm cluster on this machine (CI, or a laptop to try the Slurm
# profile): installs Debian's slurm-wlm + munge if missing, writes /etc/slurm/slurm.conf
# for this host, starts munged, slurmctld and slurmd, and waits until the node is idle.
# Needs root (or passwordless sudo) on Debian/Ubuntu; works in a container without
# systemd or cgroups. Stop everything with .ci/slurm/stop.sh.
#   SLURM_START_TIMEOUT=60   seconds to wait for the node to become idle
set -euo pipefail

TIMEOUT=${SLURM_START_TIMEOUT:-60}
CONF_DIR=/etc/slurm
STATE_DIR=/var/spool/slurm       # slurmctld state + slurmd spool
LOG_DIR=/var/log/slurm
RUN_DIR=/run/slurm

die() { echo "slurm/start.sh: ERROR: $*" >&2; exit 1; }
log() { echo "slurm/start.sh: $*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "must run as root (or with sudo available)"
    SUDO="sudo"
fi

# --- 1. packages ---------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    log "installing slurm-wlm and munge with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq || die "apt-get update failed"
    $SUDO apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null \
        || die "apt-get install slurm-wlm munge failed"
fi

# --- 2. munge (authentication between the Slurm daemons and the client commands) -----
$SUDO mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    log "creating /etc/munge/munge.key"
    $SUDO dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
$SUDO chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge
$SUDO chmod 0700 /etc/munge /var/lib/munge /var/log/munge
$SUDO chmod 0400 /etc/munge/munge.key
$SUDO chmod 0755 /run/munge
if ! pgrep -u munge -x munged >/dev/null; then
    log "starting munged"
    $SUDO runuser -u munge -- /usr/sbin/munged || die "munged did not start (see /var/log/munge/munged.log)"
fi
munge -n | unmunge >/dev/null || die "munge round trip failed (see /var/log/munge/munged.log)"

# --- 3. slurm.conf for this one machine ----------------------------------------------
HOST=$(hostname -s)
# `slurmd -C` prints this machine's hardware as Slurm sees it, e.g.
#   NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105
HW=$(slurmd -C | head -n 1)
CPUS=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$HW")
MEM=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$HW")
[ -n "$CPUS" ] && [ -n "$MEM" ] || die "could not parse 'slurmd -C' output: $HW"
# The node is declared with CPUs only (not sockets/cores/threads), so that
# "CPUs" = schedulable units, whatever the VM reports as topology.

$SUDO mkdir -p "$CONF_DIR" "$STATE_DIR/ctld" "$STATE_DIR/d" "$LOG_DIR" "$RUN_DIR"
$SUDO tee "$CONF_DIR/slurm.conf" >/dev/null <<CONF
# Single-node CI cluster, written by .ci/slurm/start.sh on $(date -u +%FT%TZ).
ClusterName=ci
# this machine runs the controller (slurmctld) and is the only compute node (slurmd)
SlurmctldHost=$HOST
# the daemons run as root: no extra user to create, and jobs can run as any submitter
SlurmUser=root
SlurmdUser=root
# daemons and client commands authenticate each other through munged
AuthType=auth/munge
CredType=cred/munge
# track job processes by parent pid, and do no CPU binding: both work without cgroups,
# i.e. inside an unprivileged container
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# no MPI launcher plugin
MpiDefault=none
# schedule individual cores AND memory: a job gets --cpus-per-task cores and --mem MB,
# and jobs only run side by side while their requests fit the node
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
# no accounting database (slurmdbd): sacct does not work, so Snakemake must query job
# states with squeue (--slurm-status-command squeue). Finished jobs stay visible in
# squeue for MinJobAge seconds, long enough for Snakemake's status checks.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=600
# a node that was down (e.g. after a restart) returns to service by itself
ReturnToService=2
# state, spool, pid and log files
StateSaveLocation=$STATE_DIR/ctld
SlurmdSpoolDir=$STATE_DIR/d
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# short timeouts: a CI cluster should react in seconds
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
Waittime=0
# the node: CPUs and memory (MB) as detected by 'slurmd -C' on this machine
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
# one default partition with every node and no time limit beyond the jobs' own --time
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
# Some Debian builds look for cgroup.conf even with the cgroup plugins off: an empty-ish
# one avoids a startup error.
[ -e "$CONF_DIR/cgroup.conf" ] || echo "CgroupPlugin=autodetect" | $SUDO tee "$CONF_DIR/cgroup.conf" >/dev/null
log "wrote $CONF_DIR/slurm.conf: node $HOST, $CPUS CPUs, $MEM MB"

# --- 4. daemons ----------------------------------------------------------------------
if ! pgrep -x slurmctld >/dev/null; then
    log "starting slurmctld"
    # -c: clear old state (no jobs survive from a previous CI run)
    $SUDO /usr/sbin/slurmctld -c || die "slurmctld did not start (see $LOG_DIR/slurmctld.log)"
fi
if ! pgrep -x slurmd >/dev/null; then
    log "starting slurmd"
    $SUDO /usr/sbin/slurmd || die "slurmd did not start (see $LOG_DIR/slurmd.log)"
fi

# --- 5. wait until the node accepts jobs ---------------------------------------------
deadline=$((SECONDS + TIMEOUT))
state=""
while [ $SECONDS -lt $deadline ]; do
    state=$(sinfo -h -n "$HOST" -o %t 2>/dev/null | head -n 1 || true)
    [ "$state" = "idle" ] && break
    # a node that registered as down/drained is resumed once (e.g. stale state)
    case "$state" in down*|drain*) $SUDO scontrol update nodename="$HOST" state=resume 2>/dev/null || true ;; esac
    sleep 1
done
if [ "$state" != "idle" ]; then
    echo "--- sinfo:" >&2; sinfo >&2 || true
    echo "--- tail $LOG_DIR/slurmctld.log:" >&2; $SUDO tail -n 20 "$LOG_DIR/slurmctld.log" >&2 || true
    echo "--- tail $LOG_DIR/slurmd.log:" >&2; $SUDO tail -n 20 "$LOG_DIR/slurmd.log" >&2 || true
    die "node $HOST is '${state:-not listed}', not idle, after ${TIMEOUT}s"
fi
log "node $HOST is idle: cluster ready ($((SECONDS))s)"
