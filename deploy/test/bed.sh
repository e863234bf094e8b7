#!/usr/bin/env bash
# bed.sh: a throwaway Debian VM with a real systemd as PID 1, for testing deploy/ on a host whose
# PID 1 is not systemd. An mmdebstrap'ed tree booted with `systemd-nspawn -b --register=no
# --keep-unit --private-network`; commands enter it with nsenter. Run as root.
#
#   bed.sh build           host packages, Debian tree (mmdebstrap), debs prefetched for the guest's offline apt
#   bed.sh up              boot; wait until `systemctl is-system-running` says running/degraded
#   bed.sh exec CMD…       run CMD inside (like ssh: root, clean env); its exit code comes back
#   bed.sh run CMD…        run CMD as a transient unit of the guest (systemd-run --wait --pipe)
#   bed.sh push SRC DEST   copy a host file/folder into guest folder DEST (tar through the guest)
#   bed.sh pull SRC DEST   copy a guest file/folder out to host folder DEST
#   bed.sh down            power off, kill leftovers by PID, remove the cgroups nspawn made
#   bed.sh kill            power cut: SIGKILL to the guest's PID 1 (its PID namespace dies at once), then as down
#   bed.sh destroy         down, then delete the tree (only $BED/rootfs: a BED_ROOT elsewhere is not this machine's)
#   bed.sh bridge up NAME CIDR   a Linux bridge with the host's address CIDR (e.g. 10.211.7.1/24), no uplink
#   bed.sh bridge down NAME      delete that bridge (nothing routes off it: no NAT, ip_forward untouched)
#
# Several machines: one tree (BED_ROOT=/x/rootfs, built once with BED=/x), each machine its own
#   BED, BED_NAME and BED_OVERLAY=1 (its disk: an overlayfs upper in $BED/upper over the tree, kept
#   across a kill and the next up, like a VM's disk across a power cut; destroy drops it). On a
#   bridge (instead of a private network of its own): BED_BRIDGE=NAME, BED_ADDRESS=CIDR for its
#   host0, BED_HOSTS=FILE (/etc/hosts lines naming every machine by its bridge address), BED_HOSTNAME
#   (e.g. db1; default BED_NAME, which must be unique on the host: its first 12 letters name the veth).
# Env: BED (work folder, default /tmp/linkfort-bed), BED_NAME (machine name, default lfbed),
#   BED_SUITE (bookworm), BED_MIRROR (http://deb.debian.org/debian), BED_MONITORING (1: also prefetch
#   what install.sh --with-monitoring needs), BED_CLUSTER (1: also prefetch what install.sh --role db
#   and an app VM need: patroni, etcd, postgresql-client), BED_BOOT_TIMEOUT (120 s), BED_VOLATILE (1: boot the tree
#   read-only under a tmpfs overlay, dropped at `down`, so one build serves several clean boots).
#   $BED/shared is /shared inside (BED_SHARED: another host folder, e.g. one for every machine).
set -euo pipefail

BED=${BED:-/tmp/linkfort-bed}
NAME=${BED_NAME:-lfbed}
OWN_ROOT=$BED/rootfs
ROOT=${BED_ROOT:-$OWN_ROOT}
SHARED=${BED_SHARED:-$BED/shared}
SUITE=${BED_SUITE:-bookworm}
MIRROR=${BED_MIRROR:-http://deb.debian.org/debian}
BASE_PACKAGES=systemd,systemd-sysv,dbus,procps,iproute2,ca-certificates,less
# What deploy/install.sh installs; the guest has no network, so apt must find these debs locally.
PREFETCH=(postgresql redis-server caddy curl)
if [ "${BED_MONITORING:-}" = 1 ]; then
  PREFETCH+=(prometheus prometheus-alertmanager prometheus-postgres-exporter prometheus-redis-exporter prometheus-node-exporter)
fi
# install.sh --role db (PostgreSQL under Patroni, with etcd) and --role app (pg_dump without a server).
if [ "${BED_CLUSTER:-}" = 1 ]; then
  PREFETCH+=(patroni etcd-server etcd-client postgresql-client)
  # Machines on a bridge: ping is how an operator (and the cluster test) checks a peer answers.
  BASE_PACKAGES+=,iputils-ping
fi
CG=systemd-bed-$NAME
GUEST_ENV=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb)

die() { echo "bed: $*" >&2; exit 1; }

# The cgroup hierarchies nspawn writes to: it gets a cgroup of its own in each, so the host's
# root cgroups stay untouched (nspawn makes ./supervisor and ./payload inside it).
cg_roots() {
  if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then echo /sys/fs/cgroup; return; fi
  [ -d /sys/fs/cgroup/unified ] && echo /sys/fs/cgroup/unified
  [ -d /sys/fs/cgroup/systemd ] && echo /sys/fs/cgroup/systemd
  return 0
}

nspawn_pid() {
  local pid
  pid=$(cat "$BED/nspawn.pid" 2>/dev/null) || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = systemd-nspawn ] && echo "$pid"
}
leader_pid() { local n; n=$(nspawn_pid) || die "not running"; ps --ppid "$n" -o pid= | head -1 | tr -d ' '; }
in_bed() { local l; l=$(leader_pid); [ -n "$l" ] || die "no guest PID 1"; nsenter --target "$l" --all -- "${GUEST_ENV[@]}" "$@"; }

cmd_build() {
  local t0
  t0=$(date +%s)
  if ! command -v mmdebstrap >/dev/null || ! command -v systemd-nspawn >/dev/null; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q mmdebstrap systemd-container
  fi
  mkdir -p "$BED"
  [ -e "$ROOT" ] && rm -rf --one-file-system "$ROOT"
  # mmdebstrap rather than debootstrap: a third of the CPU time. force-unsafe-io (no fsync per
  # file) stays in the tree, so the guest's apt skips the fsyncs too: the tree is thrown away.
  # The hook runs while the tree still has the host's network: the guest has none, so the debs
  # install.sh (and monitoring.sh) ask for are fetched now, with the same --no-install-recommends.
  mmdebstrap --variant=minbase --include="$BASE_PACKAGES" --dpkgopt=force-unsafe-io --skip=cleanup/apt \
    --customize-hook="chroot \"\$1\" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends --download-only ${PREFETCH[*]}" \
    "$SUITE" "$ROOT" "$MIRROR"
  echo "$NAME" >"$ROOT/etc/hostname"
  # Without the 127.0.1.1 line, ssl-cert's postinst (pulled in by postgresql) cannot resolve the hostname.
  printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$NAME" >"$ROOT/etc/hosts"
  : >"$ROOT/etc/machine-id"
  mkdir -p "$ROOT/shared"
  # No network inside: make apt's and DNS's failures immediate (apt-get update then warns, exit 0).
  echo 'Acquire::Retries "0";' >"$ROOT/etc/apt/apt.conf.d/99bed-offline"
  echo 'nameserver 127.0.0.1' >"$ROOT/etc/resolv.conf"
  echo "bed: built in $(($(date +%s) - t0)) s, $(du -sh "$ROOT" | cut -f1), $(find "$ROOT/var/cache/apt/archives" -name '*.deb' | wc -l) debs prefetched"
}

cmd_up() {
  [ -d "$ROOT/etc/systemd" ] || die "no tree at $ROOT: run build"
  if nspawn_pid >/dev/null; then die "already running"; fi
  mkdir -p "$BED" "$SHARED"
  local r t0 npid deadline state='' network=--private-network
  if [ -n "${BED_BRIDGE:-}" ]; then
    if [ -z "${BED_ADDRESS:-}" ] || [ ! -f "${BED_HOSTS:-}" ]; then die "BED_BRIDGE needs BED_ADDRESS and BED_HOSTS (a file)"; fi
    ip link show "$BED_BRIDGE" type bridge >/dev/null 2>&1 || die "no bridge $BED_BRIDGE: run bridge up"
    network=--network-bridge=$BED_BRIDGE
  fi
  local dir=$ROOT
  if [ "${BED_OVERLAY:-}" = 1 ]; then
    dir=$BED/disk
    mkdir -p "$BED/upper" "$BED/work" "$dir"
    mountpoint -q "$dir" || mount -t overlay overlay -o "lowerdir=$ROOT,upperdir=$BED/upper,workdir=$BED/work" "$dir"
  fi
  if [ -n "${BED_BRIDGE:-}" ]; then
    # A tmpfs overlay exists only once the guest runs, too late for its early boot.
    [ -z "${BED_VOLATILE:-}" ] || die "BED_BRIDGE takes BED_OVERLAY=1 (or the machine's own tree), not BED_VOLATILE"
    join_bridge "$dir"
  fi
  for r in $(cg_roots); do mkdir -p "$r/$CG"; done
  t0=$(date +%s%N)
  (
    for r in $(cg_roots); do echo "$BASHPID" >"$r/$CG/cgroup.procs"; done
    # --keep-unit: nspawn would ask the host's (absent) systemd for a scope and exit at once.
    exec setsid systemd-nspawn --quiet --directory="$dir" --machine="$NAME" --boot \
      --register=no --keep-unit "$network" --link-journal=no --resolv-conf=off \
      --console=read-only --bind="$SHARED:/shared" --setenv=SYSTEMD_COLORS=0 \
      ${BED_VOLATILE:+--volatile=overlay}
  ) </dev/null >"$BED/nspawn.log" 2>&1 &
  npid=$!
  echo "$npid" >"$BED/nspawn.pid"
  deadline=$(($(date +%s) + ${BED_BOOT_TIMEOUT:-120}))
  until state=$(in_bed systemctl is-system-running 2>/dev/null); [ "$state" = running ] || [ "$state" = degraded ]; do
    kill -0 "$npid" 2>/dev/null || { cat "$BED/nspawn.log" >&2; die "nspawn exited during boot"; }
    [ "$(date +%s)" -lt "$deadline" ] || { cat "$BED/nspawn.log" >&2; die "boot timeout (state: $state)"; }
    sleep 0.2
  done
  if [ -n "${BED_BRIDGE:-}" ]; then in_bed ip -4 -o addr show dev host0 | grep -q " ${BED_ADDRESS%/*}/" || die "host0 has no $BED_ADDRESS after boot"; fi
  echo "bed: $NAME is $state after $((($(date +%s%N) - t0) / 1000000)) ms (nspawn pid $npid)"
  [ "$state" = running ] || in_bed systemctl --failed --no-pager >&2 || true
}

# The guest's end of the veth (host0), written onto the machine's disk before it boots: its
# hostname, every machine's name in /etc/hosts, and a oneshot unit that gives host0 its address
# in early boot, so every service (an instance connecting to the db VMs, etcd, Patroni) starts
# with the network up, on the first boot and after a power cut alike. Nothing else in the tree
# (no networkd, no ifupdown) touches host0, and there is no default route.
join_bridge() {
  local disk=$1 hostname=${BED_HOSTNAME:-$NAME} unit=etc/systemd/system/bed-host0.service
  [[ $hostname =~ ^[a-z][a-z0-9-]*$ ]] || die "BED_HOSTNAME: lowercase letters, digits, dashes"
  [[ $BED_ADDRESS =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$ ]] || die "BED_ADDRESS: an IPv4 CIDR like 10.211.7.11/24"
  { printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'; cat "$BED_HOSTS"; } >"$disk/etc/hosts"
  echo "$hostname" >"$disk/etc/hostname"
  printf '%s\n' '[Unit]' 'Description=bed: bridge address on host0' 'DefaultDependencies=no' \
    'Before=network-pre.target network.target network-online.target' 'Wants=network-pre.target' \
    '[Service]' 'Type=oneshot' 'RemainAfterExit=yes' 'ExecStart=/usr/sbin/ip link set host0 up' \
    "ExecStart=/usr/sbin/ip addr replace $BED_ADDRESS dev host0" '[Install]' 'WantedBy=sysinit.target' >"$disk/$unit"
  mkdir -p "$disk/etc/systemd/system/sysinit.target.wants"
  ln -sf /$unit "$disk/etc/systemd/system/sysinit.target.wants/bed-host0.service"
}

cmd_exec() { in_bed "$@"; }
cmd_run() { in_bed systemd-run --quiet --wait --pipe --collect --service-type=exec -- "$@"; }
cmd_push() {
  local src=$1 dst=$2
  in_bed mkdir -p "$dst"
  tar -C "$(dirname "$src")" -cf - "$(basename "$src")" | in_bed tar -C "$dst" -xf - --no-same-owner
}
cmd_pull() {
  local src=$1 dst=$2
  mkdir -p "$dst"
  in_bed tar -C "$(dirname "$src")" -cf - "$(basename "$src")" | tar -C "$dst" -xf -
}

# The host end of a bridged machine's veth (nspawn names it vb-…, shortened for long names), found by
# host0's peer index; empty for a machine with a private network of its own.
bridge_veth() {
  local index
  index=$(in_bed cat /sys/class/net/host0/iflink 2>/dev/null) || return 0
  ip -o link show | awk -F': ' -v idx="$index" '$1 == idx && $2 ~ /^vb-/ { sub(/@.*/, "", $2); print $2 }'
}

cmd_down() {
  local n l='' i r peer=''
  if n=$(nspawn_pid); then
    peer=$(bridge_veth)
    l=$(ps --ppid "$n" -o pid= | head -1 | tr -d ' ')
    kill -TERM "$n"   # nspawn asks the guest's systemd to power off
    for i in $(seq 1 300); do kill -0 "$n" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$n" 2>/dev/null; then
      echo "bed: clean poweroff took over 30 s (loop $i), killing" >&2
      # The guest's PID 1: the kernel then kills the rest of its PID namespace.
      if [ -n "$l" ]; then kill -KILL "$l" 2>/dev/null || true; fi
      kill -KILL "$n" 2>/dev/null || true
      for i in $(seq 1 50); do kill -0 "$n" 2>/dev/null || break; sleep 0.1; done
    fi
  fi
  rm -f "$BED/nspawn.pid"
  # Sockets still closing towards a dead peer keep a stopped guest's network namespace, and with it
  # its veth, alive for minutes: the veth goes now (the namespace follows when they time out).
  if [ -n "$peer" ] && ip link show "$peer" >/dev/null 2>&1; then ip link del "$peer"; fi
  for r in $(cg_roots); do
    [ -d "$r/$CG" ] || continue
    if [ -n "$(find "$r/$CG" -name cgroup.procs -exec cat {} + 2>/dev/null)" ]; then
      echo "bed: processes still in $r/$CG:" >&2
      find "$r/$CG" -name cgroup.procs -exec cat {} + >&2
    else
      find "$r/$CG" -depth -type d -exec rmdir {} \;
    fi
  done
  # /run is not a tmpfs on this kind of host, so nspawn leaves this behind.
  rm -rf "/run/systemd/nspawn/propagate/$NAME"
  if mountpoint -q "$BED/disk" 2>/dev/null; then umount "$BED/disk"; fi
}

# A power cut: first the machine's NIC goes (the host end of its veth is deleted, so not one more
# packet leaves: no FIN or RST from the processes about to die reaches a peer, whose connections
# hang as they would to a VM that lost power), then the guest's PID 1 is SIGKILLed, so the kernel
# kills its whole PID namespace at once (no shutdown, no unit stops, nothing flushed).
cmd_kill() {
  local n l i t0 peer
  n=$(nspawn_pid) || die "not running"
  l=$(ps --ppid "$n" -o pid= | head -1 | tr -d ' ')
  [ -n "$l" ] || die "no guest PID 1"
  t0=$(date +%s%N)
  peer=$(bridge_veth)
  [ -z "$peer" ] || ip link del "$peer"
  kill -KILL "$l"
  for i in $(seq 1 100); do kill -0 "$n" 2>/dev/null || break; sleep 0.1; done
  echo "bed: $NAME killed (PID 1 $l); nspawn gone after $((($(date +%s%N) - t0) / 1000000)) ms"
  cmd_down
}

cmd_bridge() {
  local action=${1:-} name=${2:-} cidr=${3:-}
  [[ $name =~ ^[a-z][a-z0-9]{1,14}$ ]] || die "bridge NAME: 2-15 lowercase letters and digits"
  case $action in
    up)
      [[ $cidr =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$ ]] || die "bridge up NAME CIDR (e.g. 10.211.7.1/24)"
      ip link add "$name" type bridge
      ip addr add "$cidr" dev "$name"
      ip link set "$name" up ;;
    down)
      # Only a bridge: a typo must not delete some other interface.
      if ip link show "$name" type bridge >/dev/null 2>&1; then ip link del "$name"; fi ;;
    *) die "bridge up NAME CIDR | bridge down NAME" ;;
  esac
}

cmd_destroy() {
  cmd_down
  rm -rf --one-file-system "$OWN_ROOT" "$BED/shared" "$BED/upper" "$BED/work"
  [ ! -d "$BED/disk" ] || rmdir "$BED/disk"
  rm -f "$BED/nspawn.log"
  rmdir "$BED" 2>/dev/null || true
}

command=${1:-}
shift || true
case $command in
  build|up|exec|run|push|pull|down|kill|bridge|destroy) "cmd_$command" "$@" ;;
  *) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
