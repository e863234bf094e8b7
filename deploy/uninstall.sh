#!/usr/bin/env bash
# uninstall.sh: removes linkfort's services and binaries from this VM (as root).
#
#   deploy/uninstall.sh                 stop and remove the units, releases, symlinks and Caddy
#                                       drop-in; put the original Caddyfile back. KEEPS the data:
#                                       /var/lib/linkfort (backups), /etc/linkfort, the database.
#   deploy/uninstall.sh --purge [--yes] also drops the database and roles, removes Redis's linkfort
#                                       user (the default user is on again) and deletes
#                                       /var/lib/linkfort (backups too), /etc/linkfort and the user.
#                                       Asks first; --yes skips the question (needed without a tty).
#
# The OS packages (postgresql, redis-server, caddy) stay installed.
#
# On a VM of a cluster (install.sh --role): an app VM's --purge leaves the cluster's database alone
# (it is the db VMs'); a db VM's uninstall stops and disables Patroni and etcd, and --purge also
# deletes this member's PostgreSQL and etcd data and configuration. Take a db VM out of a running
# cluster first (docs/RUNBOOK.md, "Cluster install").
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$HERE/lib/common.sh"

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

confirm_purge() {
  [ -n "$YES" ] && return 0
  [ -t 0 ] || die "--purge deletes the database and every backup; without a terminal to ask on, add --yes"
  echo "This deletes the linkfort database, every backup in $LF_BACKUPS, $LF_ETC and the user $LF_USER."
  local answer
  read -r -p "Type 'purge' to go on: " answer
  [ "$answer" = purge ] || die "not purged: nothing was changed"
}

# Every linkfort unit systemd knows of, instances included (whatever --instances was).
our_units() {
  {
    # A failed unit's line starts with a "●" column.
    systemctl list-units --all --plain --no-legend 'linkfort@*.service' 2>/dev/null | awk '{ print ($1 == "●" ? $2 : $1) }'
    find "$LF_UNIT_DIR/linkfort.target.wants" -maxdepth 1 -name 'linkfort@*.service' -printf '%f\n' 2>/dev/null
  } | sort -u
}

stop_units() {
  step "stopping and disabling the units"
  local instances
  mapfile -t instances < <(our_units)
  # The supervisor first: it would start the instances again.
  systemctl disable --now linkfort-supervisor.service 2>/dev/null || true
  if [ ${#instances[@]} -gt 0 ]; then systemctl disable --now "${instances[@]}" 2>/dev/null || true; fi
  systemctl disable --now linkfort.target 2>/dev/null || true
  if [ ${#instances[@]} -gt 0 ]; then systemctl reset-failed "${instances[@]}" 2>/dev/null || true; fi
}

remove_units_and_caddy() {
  step "removing units, Caddy drop-in and Caddyfile"
  local unit
  for unit in "$LF_UNIT_DIR"/linkfort@.service "$LF_UNIT_DIR"/linkfort.target "$LF_UNIT_DIR"/linkfort-supervisor.service "$LF_CADDY_DROPIN"; do
    [ -e "$unit" ] && rm -f "$unit" && log "removed $unit"
  done
  rm -rf "$LF_UNIT_DIR/linkfort.target.wants"
  rmdir "$(dirname "$LF_CADDY_DROPIN")" 2>/dev/null || true
  if [ -f "$LF_CADDYFILE_ORIG" ]; then
    mv -f "$LF_CADDYFILE_ORIG" "$LF_CADDYFILE"
    log "restored the original $LF_CADDYFILE"
  fi
  systemctl daemon-reload
  if systemctl is-active --quiet caddy; then systemctl restart caddy; log "restarted caddy with its own configuration"; fi
}

remove_release() {
  step "removing the releases and binaries"
  local bin
  for bin in linkfort linkfort-supervisor; do
    [ -L "/usr/local/bin/$bin" ] && rm -f "/usr/local/bin/$bin" && log "removed /usr/local/bin/$bin"
  done
  rm -rf "$LF_PREFIX"
  log "removed $LF_PREFIX"
}

# A db VM: Patroni (which stops its PostgreSQL) and etcd, then, with --purge, their data.
remove_db_node() {
  step "stopping and disabling Patroni and etcd"
  systemctl disable --now patroni.service 2>/dev/null || true
  systemctl disable --now etcd.service 2>/dev/null || true
  rm -f "$LF_UNIT_DIR/etcd.service.d/linkfort.conf"
  rmdir "$LF_UNIT_DIR/etcd.service.d" 2>/dev/null || true
  systemctl daemon-reload
  [ -n "$PURGE" ] || { log "kept: /etc/patroni/config.yml, PostgreSQL's data under /var/lib/postgresql, etcd's /var/lib/etcd/linkfort"; return 0; }
  local data
  data=$(sed -n 's/^ *data_dir: *//p' /etc/patroni/config.yml 2>/dev/null | head -1)
  rm -rf /var/lib/etcd/linkfort /etc/patroni/config.yml /etc/patroni/linkfort-bootstrap.env /etc/patroni/linkfort-post-bootstrap.sh \
    /etc/postgresql-common/createcluster.d/linkfort.conf
  [[ $data != /var/lib/postgresql/* ]] || rm -rf "$data"
  log "removed this member's PostgreSQL data (${data:-none}), etcd data and Patroni configuration"
}

purge() {
  step "purging data: database, roles, Redis user, $LF_STATE, $LF_ETC, user $LF_USER"
  if has_role app; then
    log "an app VM: the cluster's database linkfort stays (it is the db VMs'; drop it on the primary if it is to go)"
  elif has_role db; then
    log "a db VM: its PostgreSQL data went with Patroni's (above)"
  elif runuser -u postgres -- true 2>/dev/null && systemctl is-active --quiet postgresql; then
    runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -v role="$LF_USER" -v supervisor_role="$LF_SUPERVISOR_ROLE" <<'SQL'
DROP DATABASE IF EXISTS linkfort WITH (FORCE);
SELECT format('DROP DATABASE %I WITH (FORCE)', datname) FROM pg_database
  WHERE datname LIKE 'linkfort\_restore\_%' \gexec
SELECT format('DROP ROLE %I', :'supervisor_role') WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'supervisor_role') \gexec
SELECT format('DROP ROLE %I', :'role') WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SQL
    log "dropped database linkfort and roles $LF_USER, $LF_SUPERVISOR_ROLE"
  else
    warn "PostgreSQL is not running: database linkfort and role $LF_USER were not dropped"
  fi
  if [ -f "$LF_REDIS_ACL" ]; then
    # Redis goes back to its package's default (no users of ours, the default user on).
    sed -i "\|^# linkfort: ACL users|d; \|^include $LF_REDIS_ACL\$|d" "$LF_REDIS_CONF"
    rm -f "$LF_REDIS_ACL"
    systemctl try-restart redis-server || warn "redis-server did not restart: journalctl -u redis-server -n 20"
    log "removed Redis user $LF_REDIS_USER ($LF_REDIS_ACL)"
  fi
  rm -rf "$LF_STATE" "$LF_ETC"
  if getent passwd "$LF_USER" >/dev/null; then userdel "$LF_USER"; log "removed user $LF_USER"; fi
}

main() {
  PURGE='' YES=''
  while [ $# -gt 0 ]; do
    case $1 in
      --purge) PURGE=1 ;;
      --yes) YES=1 ;;
      -h|--help) usage 0 ;;
      *) echo "uninstall.sh: unknown argument $1" >&2; usage ;;
    esac
    shift
  done
  [ -z "$YES" ] || [ -n "$PURGE" ] || die "--yes only goes with --purge"
  require_root
  take_lock
  [ -z "$PURGE" ] || confirm_purge
  ! has_role db || remove_db_node
  stop_units
  remove_units_and_caddy
  remove_release
  if [ -n "$PURGE" ]; then purge; else
    log "kept: $LF_STATE (backups), $LF_ETC (env files, admin key), the database linkfort; deploy/uninstall.sh --purge removes them"
  fi
  log "linkfort is uninstalled"
}

main "$@"
exit
