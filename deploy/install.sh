#!/usr/bin/env bash
# install.sh: installs linkfort on a Debian 12 / Ubuntu 22.04+ VM (as root) and leaves it running:
# PostgreSQL, Redis and Caddy from the OS packages, the release in /opt/linkfort, env files in
# /etc/linkfort, the systemd units, the database and the first admin key. Idempotent: a second
# run changes nothing, restarts nothing, and prints where the admin key is.
#
#   deploy/install.sh [--tarball FILE] [--domain NAME] [--instances N] [--with-monitoring]
#
#   --tarball FILE      install this release tarball (default: the release folder this script is in)
#   --domain NAME       serve NAME on 443 with an automatic certificate (default: plain HTTP on :8080)
#   --instances N       number of linkfort instances, ports 8081… (default 3)
#   --with-monitoring   also install Prometheus, Alertmanager and the exporters (deploy/monitoring.sh)
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

readonly APT_PACKAGES=(postgresql redis-server caddy curl)

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

parse_args() {
  TARBALL='' DOMAIN='' INSTANCES='' WITH_MONITORING=''
  while [ $# -gt 0 ]; do
    case $1 in
      --tarball) TARBALL=${2:?--tarball needs a FILE}; shift ;;
      --domain) DOMAIN=${2:?--domain needs a NAME}; shift ;;
      --instances) INSTANCES=${2:?--instances needs a number}; shift ;;
      --with-monitoring) WITH_MONITORING=1 ;;
      -h|--help) usage 0 ;;
      *) echo "install.sh: unknown argument $1" >&2; usage ;;
    esac
    shift
  done
  if [ -n "$DOMAIN" ] && ! [[ $DOMAIN =~ ^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$ ]]; then
    die "--domain \"$DOMAIN\" is not a DNS name like links.example.com"
  fi
  if [ -n "$INSTANCES" ] && ! [[ $INSTANCES =~ ^([1-9]|1[0-6])$ ]]; then die "--instances must be 1 to 16, not \"$INSTANCES\""; fi
  return 0
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

install_packages() {
  local missing=() pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null)" = "ii " ] || missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then log "packages already installed: ${APT_PACKAGES[*]}"; return; fi
  step "installing packages: ${missing[*]}"
  apt-get update -q || warn "apt-get update failed; trying with the package lists already here"
  if [[ " ${missing[*]} " == *" caddy "* ]] && ! [[ $(apt-cache policy caddy 2>/dev/null | sed -n 's/^ *Candidate: //p') =~ ^[0-9] ]]; then
    die "no caddy package in this release's repositories (Ubuntu 22.04 has none; Debian 12 and Ubuntu 24.04 do). Add Caddy's own apt repository (https://caddyserver.com/docs/install#debian-ubuntu-raspbian), then run install.sh again"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || die "apt-get install ${missing[*]} failed (see above)"
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
  sup_url=$(supervisor_database_url "$url")
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
  if [ -n "$INSTANCES" ]; then
    set_env_value "$LF_SUPERVISOR_ENV" INSTANCE_PORTS "$ports" && SUPERVISOR_CHANGED=1
    set_env_value "$LF_CADDY_ENV" LINKFORT_UPSTREAMS "$upstreams" && CADDY_RESTART=1
  fi
  if [ -n "$DOMAIN" ]; then set_env_value "$LF_CADDY_ENV" LINKFORT_SITE "$DOMAIN" && CADDY_RESTART=1; fi
  # QR codes carry PUBLIC_URL (never a request's Host); the domain Caddy serves is that origin.
  if [ -n "$DOMAIN" ]; then set_env_value "$LF_SERVICE_ENV" PUBLIC_URL "https://$DOMAIN" && INSTANCES_CHANGED=1; fi
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
  else
    echo "admin API key: in $LF_ADMIN_KEY (created by the first install)"
  fi
  echo "status: linkfort-supervisor status | logs: journalctl -u 'linkfort@*' -u linkfort-supervisor -f"
  echo "install took $(($(date +%s) - LF_STARTED)) s"
}

main() {
  parse_args "$@"
  require_root
  take_lock
  SOURCE='' CLEANUP='' VERSION='' REL='' NEW_ADMIN_KEY='' PUBLIC_URL=''
  UNITS_CHANGED='' SUPERVISOR_CHANGED='' INSTANCES_CHANGED='' CADDY_RESTART='' CADDY_RELOAD=''
  trap '[ -z "$CLEANUP" ] || rm -rf "$CLEANUP"' EXIT
  check_os
  find_release
  refuse_other_version
  install_packages
  create_user_and_dirs
  write_env_files
  setup_database
  setup_redis
  install_release
  install_units
  install_caddyfile
  migrate
  create_admin_key
  start_services
  wait_healthy
  install_monitoring
  summary
}

main "$@"
exit
