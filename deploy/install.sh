#!/usr/bin/env bash
# install.sh: installs linkfort on a Debian 12 / Ubuntu 22.04+ VM (as root) and leaves it running:
# PostgreSQL, Redis and Caddy from the OS packages, the release in /opt/linkfort, env files in
# /etc/linkfort, the systemd units, the database and the first admin key. Idempotent: a second
# run changes nothing, restarts nothing, and prints where the admin key is.
#
#   deploy/install.sh [--tarball FILE] [--domain NAME] [--instances N] [--with-monitoring]
#   deploy/install.sh --role db   --db-hosts H1,H2,H3 --cluster-env FILE [--name NODE]
#   deploy/install.sh --role app  --db-hosts H1,H2,H3 --cluster-env FILE [--tarball FILE] [--instances N]
#   deploy/install.sh --role edge --app-hosts A1:8080,A2:8080 [--tarball FILE] [--domain NAME]
#
#   --tarball FILE      install this release tarball (default: the release folder this script is in)
#   --domain NAME       serve NAME on 443 with an automatic certificate (default: plain HTTP on :8080)
#   --instances N       number of linkfort instances, ports 8081… (default 3)
#   --with-monitoring   also install Prometheus, Alertmanager and the exporters (deploy/monitoring.sh)
#   --role ROLE         all (default): everything on this one VM. Several VMs (docs/RUNBOOK.md,
#                       "Cluster install"): db = PostgreSQL under Patroni with etcd; app = instances,
#                       supervisor, Redis and Caddy on :8080 using the db VMs; edge = Caddy in front
#                       of the app VMs
#   --db-hosts LIST     the db VMs, comma-separated, the same list in the same order on every VM
#   --cluster-env FILE  the cluster's passwords: --role db writes it when missing; copy it to the others
#   --app-hosts LIST    the app VMs' Caddy, HOST:PORT comma-separated (edge)
#   --name NODE         this db VM's Patroni name (default: its host name)
#
# A later run with --domain or --instances changes only those lines of the env files.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$HERE/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/env-files.sh
. "$HERE/lib/env-files.sh"
# shellcheck source-path=SCRIPTDIR source=lib/database.sh
. "$HERE/lib/database.sh"
# shellcheck source-path=SCRIPTDIR source=lib/cluster.sh
. "$HERE/lib/cluster.sh"
# shellcheck source-path=SCRIPTDIR source=lib/db-node.sh
. "$HERE/lib/db-node.sh"

usage() { sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

parse_args() {
  TARBALL='' DOMAIN='' INSTANCES='' WITH_MONITORING='' ROLE=all DB_HOSTS='' CLUSTER_ENV='' APP_HOSTS='' NODE_NAME=''
  while [ $# -gt 0 ]; do
    case $1 in
      --tarball) TARBALL=${2:?--tarball needs a FILE}; shift ;;
      --domain) DOMAIN=${2:?--domain needs a NAME}; shift ;;
      --instances) INSTANCES=${2:?--instances needs a number}; shift ;;
      --with-monitoring) WITH_MONITORING=1 ;;
      --role) ROLE=${2:?--role needs all, db, app or edge}; shift ;;
      --db-hosts) DB_HOSTS=${2:?--db-hosts needs H1,H2,H3}; shift ;;
      --cluster-env) CLUSTER_ENV=${2:?--cluster-env needs a FILE}; shift ;;
      --app-hosts) APP_HOSTS=${2:?--app-hosts needs A1:8080,A2:8080}; shift ;;
      --name) NODE_NAME=${2:?--name needs a NODE name}; shift ;;
      -h|--help) usage 0 ;;
      *) echo "install.sh: unknown argument $1" >&2; usage ;;
    esac
    shift
  done
  if [ -n "$DOMAIN" ] && ! [[ $DOMAIN =~ ^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$ ]]; then
    die "--domain \"$DOMAIN\" is not a DNS name like links.example.com"
  fi
  if [ -n "$INSTANCES" ] && ! [[ $INSTANCES =~ ^([1-9]|1[0-6])$ ]]; then die "--instances must be 1 to 16, not \"$INSTANCES\""; fi
  check_role_args
}

# Which options each role takes: a flag that a role would ignore is an error, not a surprise.
check_role_args() {
  local given=() allowed flag
  [ -z "$TARBALL" ] || given+=(--tarball)
  [ -z "$DOMAIN" ] || given+=(--domain)
  [ -z "$INSTANCES" ] || given+=(--instances)
  [ -z "$WITH_MONITORING" ] || given+=(--with-monitoring)
  [ -z "$DB_HOSTS" ] || given+=(--db-hosts)
  [ -z "$CLUSTER_ENV" ] || given+=(--cluster-env)
  [ -z "$APP_HOSTS" ] || given+=(--app-hosts)
  [ -z "$NODE_NAME" ] || given+=(--name)
  case $ROLE in
    all) allowed=" --tarball --domain --instances --with-monitoring " ;;
    db) allowed=" --tarball --db-hosts --cluster-env --name " ;;
    app) allowed=" --tarball --instances --db-hosts --cluster-env " ;;
    edge) allowed=" --tarball --domain --app-hosts " ;;
    *) die "--role must be all, db, app or edge, not \"$ROLE\"" ;;
  esac
  for flag in "${given[@]}"; do
    [[ $allowed == *" $flag "* ]] || die "--role $ROLE does not take $flag (it takes:${allowed% })"
  done
  case $ROLE in
    db|app)
      [ -n "$DB_HOSTS" ] || die "--role $ROLE needs --db-hosts H1,H2,H3 (the db VMs, the same list on every VM)"
      [ -n "$CLUSTER_ENV" ] || die "--role $ROLE needs --cluster-env FILE (the cluster's passwords; --role db writes it when missing)"
      [[ $CLUSTER_ENV == /* ]] || die "--cluster-env needs an absolute path, not \"$CLUSTER_ENV\""
      parse_db_hosts "$DB_HOSTS" ;;
    edge)
      [ -n "$APP_HOSTS" ] || die "--role edge needs --app-hosts A1:8080,A2:8080 (the app VMs' Caddy)"
      parse_app_hosts "$APP_HOSTS" ;;
  esac
  if [ -n "$NODE_NAME" ] && ! valid_host "$NODE_NAME"; then die "--name \"$NODE_NAME\" must be letters, digits, dots and dashes"; fi
  NODE_NAME=${NODE_NAME:-$(hostname -s)}
  return 0
}

# The roles this VM has: a db VM may also be an app or the edge VM (they share no port or file),
# every other mix would leave one role's configuration half over the other's.
check_role_file() {
  local recorded role
  recorded=$(cat "$LF_ROLE_FILE" 2>/dev/null || true)
  # A VM installed before roles existed is an all-in-one.
  if [ -z "$recorded" ] && [ -n "$(link_target "$LF_CURRENT")" ]; then recorded=all; fi
  [[ " $recorded " != *" $ROLE "* ]] || return 0
  for role in $recorded; do
    case "$role+$ROLE" in
      db+app|db+edge|app+db|edge+db) ;;
      *) die "this VM was installed with --role $role; --role $ROLE cannot join it (only db goes with app or edge): uninstall first (deploy/uninstall.sh --purge)" ;;
    esac
  done
  install -d -m 0700 -o root -g root "$LF_ETC"
  echo "${recorded:+$recorded }$ROLE" >"$LF_ROLE_FILE"
  log "$LF_ROLE_FILE: $(cat "$LF_ROLE_FILE")"
}

check_os() {
  local id version
  id=$(sed -n 's/^ID=//p' /etc/os-release | tr -d '"')
  version=$(sed -n 's/^VERSION_ID=//p' /etc/os-release | tr -d '"')
  case $id in
    debian) [ "${version%%.*}" -ge 12 ] 2>/dev/null || warn "Debian $version is older than 12: not tested" ;;
    ubuntu) [ "${version%%.*}" -ge 22 ] 2>/dev/null || warn "Ubuntu $version is older than 22.04: not tested" ;;
    *) warn "$id $version is not Debian 12 or Ubuntu 22.04+: not tested" ;;
  esac
  [ -d /run/systemd/system ] || die "systemd is not running on this machine"
}

# The release to install: the unpacked --tarball, or the folder this script came in.
find_release() {
  if [ -n "$TARBALL" ]; then
    step "unpacking $TARBALL"
    SOURCE=$(unpack_tarball "$TARBALL")
    CLEANUP=$(dirname "$SOURCE")
  else
    SOURCE=$(cd "$HERE/.." && pwd)
    [ -f "$SOURCE/VERSION" ] || die "$SOURCE is not a release folder (no VERSION): run install.sh from an unpacked release, or pass --tarball FILE (npm run release builds one)"
  fi
  VERSION=$(release_version "$SOURCE")
  step "verifying release $VERSION ($SOURCE)"
  verify_release "$SOURCE"
}

# install.sh installs, or re-checks, the installed version; moving between versions is upgrade.sh's.
refuse_other_version() {
  local current
  current=$(link_target "$LF_CURRENT")
  if [ -n "$current" ] && [ "$(basename "$current")" != "$VERSION" ]; then
    die "linkfort $(basename "$current") is installed here and this is $VERSION: use $LF_CURRENT/deploy/upgrade.sh linkfort-$VERSION-linux-x64.tar.gz"
  fi
}

# What each role needs from apt (db: deploy/lib/db-node.sh). An app VM's pg_dump is the client package's.
role_packages() {
  case $ROLE in
    app) APT_PACKAGES=(redis-server caddy curl postgresql-client) ;;
    edge) APT_PACKAGES=(caddy curl) ;;
    *) APT_PACKAGES=(postgresql redis-server caddy curl) ;;
  esac
}

install_packages() {
  role_packages
  install_missing_packages "${APT_PACKAGES[@]}"
}

create_user_and_dirs() {
  step "user $LF_USER and directories"
  if ! getent passwd "$LF_USER" >/dev/null; then
    useradd --system --user-group --home-dir "$LF_STATE" --no-create-home --shell /usr/sbin/nologin "$LF_USER"
    log "created system user $LF_USER"
  fi
  install -d -m 0755 -o root -g root "$LF_PREFIX" "$LF_RELEASES"
  install -d -m 0700 -o root -g root "$LF_ETC"
  install -d -m 0755 -o "$LF_USER" -g "$LF_USER" "$LF_STATE"
  # root's: the supervisor (root) writes the dumps; its unit's StateDirectory= gives the same owner.
  install -d -m 0700 -o root -g root "$LF_BACKUPS"
}

write_env_files() {
  step "env files in $LF_ETC"
  local count=${INSTANCES:-3} url sup_url redis_url
  local ports="8081-$((8080 + count))" upstreams="" p
  for p in $(seq 8081 $((8080 + count))); do upstreams+="${upstreams:+ }127.0.0.1:$p"; done
  url=$(env_value "$LF_SERVICE_ENV" DATABASE_URL)
  [ -n "$url" ] || url="postgres://$LF_USER:$(generate_password)@127.0.0.1:5432/linkfort"
  # An app VM: the cluster's primary, wherever Patroni has it; the supervisor with its own role.
  [ "$ROLE" != app ] || url=$(cluster_database_url)
  sup_url=$(supervisor_database_url "$url")
  [ "$ROLE" != app ] || sup_url=$(cluster_database_url "$LF_SUPERVISOR_ROLE" SUPERVISOR_DB_PASSWORD)
  redis_url=$(env_value "$LF_SERVICE_ENV" REDIS_URL)
  # Empty, or the password-less URL of releases before the ACL user: this machine's Redis gets one.
  [ -n "$redis_url" ] && [ "$redis_url" != "$LF_REDIS_OPEN_URL" ] || redis_url="redis://$LF_REDIS_USER:$(generate_password)@127.0.0.1:6379/0"
  write_env_once "$HERE/env/linkfort.env" "$LF_SERVICE_ENV" DATABASE_URL "$url" REDIS_URL "$redis_url"
  write_env_once "$HERE/env/supervisor.env" "$LF_SUPERVISOR_ENV" DATABASE_URL "$sup_url" REDIS_URL "$redis_url" INSTANCE_PORTS "$ports"
  write_env_once "$HERE/env/caddy.env" "$LF_CADDY_ENV" LINKFORT_SITE "${DOMAIN:-:8080}" LINKFORT_UPSTREAMS "$upstreams"
  chmod 0600 "$LF_SERVICE_ENV" "$LF_SUPERVISOR_ENV" "$LF_CADDY_ENV"
  # An install from before the supervisor's own role and Redis's ACL user moves to them.
  if set_env_value "$LF_SERVICE_ENV" REDIS_URL "$redis_url"; then INSTANCES_CHANGED=1; fi
  if set_env_value "$LF_SUPERVISOR_ENV" REDIS_URL "$redis_url"; then SUPERVISOR_CHANGED=1; fi
  if set_env_value "$LF_SUPERVISOR_ENV" DATABASE_URL "$sup_url"; then SUPERVISOR_CHANGED=1; fi
  [ "$ROLE" != app ] || app_env_values "$url" "$sup_url"
  if [ -n "$INSTANCES" ]; then
    set_env_value "$LF_SUPERVISOR_ENV" INSTANCE_PORTS "$ports" && SUPERVISOR_CHANGED=1
    set_env_value "$LF_CADDY_ENV" LINKFORT_UPSTREAMS "$upstreams" && CADDY_RESTART=1
  fi
  if [ -n "$DOMAIN" ]; then set_env_value "$LF_CADDY_ENV" LINKFORT_SITE "$DOMAIN" && CADDY_RESTART=1; fi
  # QR codes carry PUBLIC_URL (never a request's Host); the domain Caddy serves is that origin.
  if [ -n "$DOMAIN" ]; then set_env_value "$LF_SERVICE_ENV" PUBLIC_URL "https://$DOMAIN" && INSTANCES_CHANGED=1; fi
  return 0
}

# An app VM: DATABASE_URL follows --db-hosts and the cluster env, and the edge in front (on a
# private network) is a proxy whose X-Forwarded-For the local Caddy and the instances believe, so
# rate limits and clicks see the client rather than the edge.
app_env_values() {
  local url=$1 sup_url=$2 networks
  networks=$(IFS=,; echo "${PRIVATE_NETWORKS[*]}")
  if set_env_value "$LF_SERVICE_ENV" DATABASE_URL "$url"; then INSTANCES_CHANGED=1; fi
  if set_env_value "$LF_SUPERVISOR_ENV" DATABASE_URL "$sup_url"; then SUPERVISOR_CHANGED=1; fi
  if set_env_value "$LF_SERVICE_ENV" TRUSTED_PROXIES "127.0.0.1,::1,$networks"; then INSTANCES_CHANGED=1; fi
  if set_env_value "$LF_CADDY_ENV" LINKFORT_TRUSTED_PROXIES "127.0.0.1/8 ::1/128 ${PRIVATE_NETWORKS[*]}"; then CADDY_RESTART=1; fi
  return 0
}

# Copies the verified release to releases/<version> and points current at it (first install),
# or finds it already there (re-run).
install_release() {
  local dest=$LF_RELEASES/$VERSION bin
  step "release $VERSION in $dest"
  if [ "$(readlink -m "$SOURCE")" != "$(readlink -m "$dest")" ]; then
    if [ -d "$dest" ]; then
      cmp -s "$SOURCE/SHA256SUMS" "$dest/SHA256SUMS" || die "$dest exists with other contents than this $VERSION: give the new build its own version"
      log "$dest already installed"
    else
      if [ -n "$TARBALL" ]; then mv "$SOURCE" "$dest"; else rm -rf "$dest.new"; cp -a "$SOURCE" "$dest.new" && mv "$dest.new" "$dest"; fi
      chown -R root:root "$dest" && chmod -R go-w "$dest"
    fi
  fi
  if [ -z "$(link_target "$LF_CURRENT")" ]; then
    switch_link "$LF_CURRENT" "$dest"
    log "$LF_CURRENT -> $dest"
  fi
  for bin in linkfort linkfort-supervisor; do
    [ "$(readlink "/usr/local/bin/$bin" 2>/dev/null)" = "$LF_CURRENT/$bin" ] || { switch_link "/usr/local/bin/$bin" "$LF_CURRENT/$bin"; log "/usr/local/bin/$bin -> $LF_CURRENT/$bin"; }
  done
  REL=$LF_CURRENT
}

install_units() {
  step "systemd units"
  local unit name
  for unit in "$REL"/systemd/*.service "$REL"/systemd/*.target; do
    [ -f "$unit" ] || continue
    name=$(basename "$unit")
    if install_if_changed "$unit" "$LF_UNIT_DIR/$name" 0644; then
      UNITS_CHANGED=1
      [[ $name == linkfort-supervisor.service ]] && SUPERVISOR_CHANGED=1
      [[ $name == linkfort@.service ]] && INSTANCES_CHANGED=1
    fi
  done
  if install_if_changed "$REL/deploy/caddy-dropin.conf" "$LF_CADDY_DROPIN" 0644; then UNITS_CHANGED=1; CADDY_RESTART=1; fi
  if [ -n "$UNITS_CHANGED" ]; then systemctl daemon-reload; log "systemctl daemon-reload"; fi
}

install_caddyfile() {
  step "Caddyfile"
  if [ -f "$LF_CADDYFILE" ] && [ ! -e "$LF_CADDYFILE_ORIG" ]; then
    cp -a "$LF_CADDYFILE" "$LF_CADDYFILE_ORIG"
    log "kept the original as $LF_CADDYFILE_ORIG"
  fi
  if install_if_changed "$REL/Caddyfile" "$LF_CADDYFILE" 0644; then CADDY_RELOAD=1; fi
}

migrate() {
  step "database migrations"
  run_as_unit "$LF_SERVICE_ENV" "$LF_USER" "$REL/linkfort" migrate || die "linkfort migrate failed (see above)"
}

# An app VM: the first admin key of the cluster, made by whichever app VM's install gets there first
# (`linkfort keys bootstrap` makes one only on a database that never had one, under a lock), and
# saved on that VM alone. The others say where it is.
create_cluster_admin_key() {
  [ -f "$LF_ADMIN_KEY" ] && { log "admin key exists: $LF_ADMIN_KEY"; return 0; }
  step "first admin API key of the cluster"
  local key
  key=$(run_as_unit "$LF_SERVICE_ENV" "$LF_USER" "$REL/linkfort" keys bootstrap) || die "linkfort keys bootstrap failed: $key"
  if [ -z "$key" ]; then
    CLUSTER_KEY_ELSEWHERE=1
    log "the cluster's database has had an admin key already: it is in $LF_ADMIN_KEY on the app VM installed first"
    return 0
  fi
  (umask 077 && printf '%s\n' "$key" >"$LF_ADMIN_KEY.new") && mv "$LF_ADMIN_KEY.new" "$LF_ADMIN_KEY"
  NEW_ADMIN_KEY=$key
}

# The first admin key, created before the first start (so `serve` does not create one and log
# it), saved for the operator; never a second one while the file exists.
create_admin_key() {
  [ -f "$LF_ADMIN_KEY" ] && { log "admin key exists: $LF_ADMIN_KEY"; return 0; }
  step "first admin API key"
  local output key
  output=$(run_as_unit "$LF_SERVICE_ENV" "$LF_USER" "$REL/linkfort" keys create --name admin --scope admin) \
    || die "linkfort keys create failed: $output"
  key=$(printf '%s\n' "$output" | sed -n 's/^key: //p')
  [ -n "$key" ] || die "linkfort keys create printed no key: $output"
  (umask 077 && printf '%s\n' "$key" >"$LF_ADMIN_KEY.new") && mv "$LF_ADMIN_KEY.new" "$LF_ADMIN_KEY"
  NEW_ADMIN_KEY=$key
}

start_services() {
  step "enabling and starting services"
  local wanted was_active unit
  mapfile -t wanted < <(instance_units)
  was_active=$(systemctl is-active linkfort.target 2>/dev/null || true)
  systemctl enable --quiet linkfort.target "${wanted[@]}" linkfort-supervisor.service caddy.service redis-server.service
  # A supervisor that ran before with other settings or another unit restarts first, so it does not
  # restart instances that are about to leave (a smaller --instances).
  if [ -n "$SUPERVISOR_CHANGED" ] && systemctl is-active --quiet linkfort-supervisor; then
    systemctl restart linkfort-supervisor || die "linkfort-supervisor did not restart: journalctl -u linkfort-supervisor -n 50"
    log "restarted linkfort-supervisor"
  fi
  for unit in "$LF_UNIT_DIR"/linkfort.target.wants/linkfort@*.service; do
    [ -L "$unit" ] || continue
    unit=$(basename "$unit")
    [[ " ${wanted[*]} " == *" $unit "* ]] || { systemctl disable --now "$unit"; log "stopped and disabled $unit"; }
  done
  # The target brings the supervisor up too (it is WantedBy=linkfort.target).
  systemctl start linkfort.target "${wanted[@]}" linkfort-supervisor.service \
    || die "starting linkfort failed: systemctl --failed; journalctl -u 'linkfort@*' -u linkfort-supervisor -n 50"
  if [ -n "$CADDY_RESTART" ]; then systemctl restart caddy; log "restarted caddy"
  elif [ -n "$CADDY_RELOAD" ] && systemctl is-active --quiet caddy; then systemctl reload caddy; log "reloaded caddy"
  else systemctl start caddy; fi
  # Instances that were running an older unit file pick it up one at a time.
  if [ -n "$INSTANCES_CHANGED" ] && [ "$was_active" = active ]; then
    supervisor_cli "$REL" rolling-restart || die "rolling restart after the unit change failed"
  fi
}

wait_healthy() {
  step "waiting until healthy"
  wait_instances_ready 60
  wait_http "$LF_STATUS_URL/status" '"instances"' 30 || die "the supervisor's status server ($LF_STATUS_URL) does not answer: journalctl -u linkfort-supervisor -n 50"
  local site
  site=$(env_value "$LF_CADDY_ENV" LINKFORT_SITE)
  if [[ $site == :* ]]; then
    PUBLIC_URL="http://$(hostname -I 2>/dev/null | awk '{print $1}' | grep . || echo 127.0.0.1)$site"
    wait_http "http://127.0.0.1$site/ready" '"ready"' 30 || die "Caddy does not answer on $site: journalctl -u caddy -n 50"
  else
    PUBLIC_URL="https://$site"
    wait_http "https://$site/ready" '"ready"' 30 2>/dev/null || curl -fsS -k --max-time 5 --resolve "$site:443:127.0.0.1" "https://$site/ready" >/dev/null 2>&1 \
      || warn "https://$site/ready does not answer yet: Caddy needs DNS for $site pointing here and ports 80/443 open to get its certificate (journalctl -u caddy)"
  fi
  log "all $(instance_ports | wc -l) instances ready, supervisor up, Caddy answering"
}

install_monitoring() {
  [ -n "$WITH_MONITORING" ] || return 0
  step "monitoring (Prometheus, Alertmanager, exporters)"
  [ -x "$REL/deploy/monitoring.sh" ] || die "this release has no deploy/monitoring.sh: --with-monitoring is not available in $VERSION"
  "$REL/deploy/monitoring.sh" || die "deploy/monitoring.sh failed (see above)"
}

summary() {
  echo
  echo "linkfort $VERSION is running: $PUBLIC_URL"
  if [ -n "$NEW_ADMIN_KEY" ]; then
    echo "admin API key (shown once here; also saved in $LF_ADMIN_KEY, mode 0600):"
    echo "  $NEW_ADMIN_KEY"
  elif [ -n "$CLUSTER_KEY_ELSEWHERE" ]; then
    echo "admin API key: in $LF_ADMIN_KEY on the app VM installed first (one key for the whole cluster)"
  else
    echo "admin API key: in $LF_ADMIN_KEY (created by the first install)"
  fi
  echo "status: linkfort-supervisor status | logs: journalctl -u 'linkfort@*' -u linkfort-supervisor -f"
  echo "install took $(($(date +%s) - LF_STARTED)) s"
}

# --role edge: Caddy alone, in front of the app VMs' Caddy, from the release's Caddyfile (edge profile).
install_edge() {
  install_packages
  install -d -m 0755 -o root -g root "$LF_PREFIX" "$LF_RELEASES"
  step "env file $LF_CADDY_ENV"
  write_env_once "$HERE/env/caddy-edge.env" "$LF_CADDY_ENV" LINKFORT_SITE "${DOMAIN:-:8080}" LINKFORT_APP_UPSTREAMS "$APP_UPSTREAMS"
  chmod 0600 "$LF_CADDY_ENV"
  # The app VMs are a list to keep current: every run sets it (a reload would not re-read it).
  if set_env_value "$LF_CADDY_ENV" LINKFORT_APP_UPSTREAMS "$APP_UPSTREAMS"; then CADDY_RESTART=1; fi
  if [ -n "$DOMAIN" ]; then set_env_value "$LF_CADDY_ENV" LINKFORT_SITE "$DOMAIN" && CADDY_RESTART=1; fi
  install_release
  if install_if_changed "$REL/deploy/caddy-dropin.conf" "$LF_CADDY_DROPIN" 0644; then systemctl daemon-reload; CADDY_RESTART=1; fi
  install_caddyfile
  step "starting Caddy"
  systemctl enable --quiet caddy.service
  if [ -n "$CADDY_RESTART" ]; then systemctl restart caddy; log "restarted caddy"
  elif [ -n "$CADDY_RELOAD" ] && systemctl is-active --quiet caddy; then systemctl reload caddy; log "reloaded caddy"
  else systemctl start caddy; fi
  local site
  site=$(env_value "$LF_CADDY_ENV" LINKFORT_SITE)
  PUBLIC_URL="https://$site"
  if [[ $site == :* ]]; then
    PUBLIC_URL="http://$(hostname -I 2>/dev/null | awk '{print $1}' | grep . || echo 127.0.0.1)$site"
    wait_http "http://127.0.0.1$site/ready" '"ready"' 30 \
      || warn "no app VM answers through this edge yet (${APP_UPSTREAMS}): install them (--role app), then curl http://127.0.0.1$site/ready"
  fi
  echo
  echo "linkfort edge $VERSION is running: $PUBLIC_URL -> $APP_UPSTREAMS"
  echo "logs: journalctl -u caddy -f; access log /var/log/caddy/linkfort-access.log"
  echo "install took $(($(date +%s) - LF_STARTED)) s"
}

main() {
  parse_args "$@"
  require_root
  take_lock
  SOURCE='' CLEANUP='' VERSION='' REL='' NEW_ADMIN_KEY='' PUBLIC_URL='' CLUSTER_ENV_CREATED='' DB_PENDING='' CLUSTER_KEY_ELSEWHERE=''
  UNITS_CHANGED='' SUPERVISOR_CHANGED='' INSTANCES_CHANGED='' CADDY_RESTART='' CADDY_RELOAD=''
  trap '[ -z "$CLEANUP" ] || rm -rf "$CLEANUP"' EXIT
  check_os
  find_release
  check_role_file
  case $ROLE in
    db)
      # A db VM runs no linkfort release: PostgreSQL, Patroni and etcd come from apt, their
      # configuration from this release's deploy/cluster/.
      ensure_cluster_env 1
      install_db_node
      db_summary
      return 0 ;;
    edge)
      refuse_other_version
      install_edge
      return 0 ;;
    app)
      ensure_cluster_env '' ;;
  esac
  refuse_other_version
  install_packages
  create_user_and_dirs
  write_env_files
  if [ "$ROLE" = app ]; then wait_cluster_primary "$(env_value "$LF_SERVICE_ENV" DATABASE_URL)" "${DB_WAIT_SECONDS:-120}"; else setup_database; fi
  setup_redis
  install_release
  install_units
  install_caddyfile
  migrate
  if [ "$ROLE" = app ]; then create_cluster_admin_key; else create_admin_key; fi
  start_services
  wait_healthy
  install_monitoring
  summary
}

main "$@"
exit
