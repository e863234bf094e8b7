#!/usr/bin/env bash
# deploy/monitoring.sh - Prometheus, Alertmanager and the postgres, redis and node exporters from
# the OS packages, configured with this release's monitoring/ files, every one on 127.0.0.1.
# Run as root after deploy/install.sh (install.sh --with-monitoring calls it). It reads what it
# needs from /etc/linkfort/*.env; run it again after changing INSTANCE_PORTS or
# DISCORD_WEBHOOK_URL there. A second run with nothing changed restarts nothing.
#
#   deploy/monitoring.sh                              install or update, then wait until every target is up
#   deploy/monitoring.sh render-prometheus PORT...    print prometheus.yml scraping instances on these ports
#   deploy/monitoring.sh render-alertmanager [URL]    print alertmanager.yml sending to this Discord webhook
#                                                     (none: alerts stay in Alertmanager's own page)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MONITORING=$(cd "$HERE/../monitoring" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$HERE/lib/common.sh"

readonly PACKAGES=(prometheus prometheus-alertmanager prometheus-postgres-exporter prometheus-redis-exporter prometheus-node-exporter)
readonly PROM_ETC=/etc/prometheus
readonly PROM_URL=http://127.0.0.1:9090
readonly MONITOR_ROLE=linkfort_monitor
readonly DISCORD_PLACEHOLDER=https://discord.com/api/webhooks/0/SET-BY-DEPLOY-MONITORING-SH
# Services whose configuration changed in this run: restarted (or reloaded) at the end.
declare -A RESTART=() RELOAD=()
# 0 when DATABASE_URL is not this machine's PostgreSQL: the postgres exporter is the operator's to set up.
PG_LOCAL=1

# prometheus.yml with the linkfort job listing 127.0.0.1:PORT for each port given.
render_prometheus() {
  [ $# -gt 0 ] || die "render-prometheus needs at least one instance port"
  local targets="" port line
  for port in "$@"; do
    [[ $port =~ ^[0-9]+$ ]] || die "\"$port\" is not a port"
    targets+="${targets:+, }\"127.0.0.1:$port\""
  done
  while IFS= read -r line; do
    if [[ $line =~ ^([[:space:]]*)-\ targets:.*\#\ INSTANCE_PORTS$ ]]; then
      printf '%s- targets: [%s]  # INSTANCE_PORTS\n' "${BASH_REMATCH[1]}" "$targets"
    else
      printf '%s\n' "$line"
    fi
  done <"$MONITORING/prometheus.yml"
}

# alertmanager.yml with the webhook in place of the placeholder, or without the Discord blocks.
render_alertmanager() {
  local url=${1:-} line skipping=0
  if [ -n "$url" ] && ! [[ $url =~ ^https://[^[:space:]\"\\]+$ ]]; then
    die "DISCORD_WEBHOOK_URL must be an https:// URL without spaces or quotes"
  fi
  while IFS= read -r line; do
    if [ -z "$url" ]; then
      if [[ $line =~ \#\ BEGIN\ discord$ ]]; then skipping=1; fi
      if [ "$skipping" = 0 ]; then printf '%s\n' "$line"; fi
      if [[ $line =~ \#\ END\ discord$ ]]; then skipping=0; fi
    else
      # Quoted replacement: an & in the URL stays an & (bash 5.2 patsub_replacement).
      printf '%s\n' "${line//"$DISCORD_PLACEHOLDER"/"$url"}"
    fi
  done <"$MONITORING/alertmanager.yml"
}

# Writes stdin to DEST (owner root:GROUP, MODE) when it differs; keeps the packaged original once
# as DEST.dpkg-linkfort-orig. Exit 0 = changed.
put() {
  local dest=$1 mode=$2 group=$3 tmp
  tmp=$(mktemp)
  cat >"$tmp"
  if [ -f "$dest" ] && cmp -s "$tmp" "$dest" && [ "$(stat -c '%a %G' "$dest")" = "${mode#0} $group" ]; then rm -f "$tmp"; return 1; fi
  if [ -f "$dest" ] && [ ! -e "$dest.dpkg-linkfort-orig" ] && ! grep -q linkfort "$dest"; then cp -p "$dest" "$dest.dpkg-linkfort-orig"; fi
  install -D -m "$mode" -o root -g "$group" "$tmp" "$dest"
  rm -f "$tmp"
  log "wrote $dest"
}

# The packages' postinst would start each daemon at once with its defaults: every interface, and
# the node exporter on :9100, the supervisor's port. policy-rc.d holds them until configured.
install_packages() {
  local missing=() pkg
  mapfile -t missing < <(missing_packages "${PACKAGES[@]}")
  if [ ${#missing[@]} -eq 0 ]; then log "packages already installed: ${PACKAGES[*]}"; return; fi
  step "installing packages: ${missing[*]}"
  apt-get update -q || warn "apt-get update failed; trying with the package lists already here"
  local own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# deploy/monitoring.sh: no daemon starts before it is configured\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    own_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  else
    warn "/usr/sbin/policy-rc.d exists and is left alone: the new daemons may start with their defaults until configured"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || die "apt-get install ${missing[*]} failed (see above)"
  if [ "$own_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
  for pkg in "${missing[@]}"; do RESTART[$pkg]=1; done
}

# DATABASE_URL's database when it is this machine's PostgreSQL (the role is created there), else "".
local_database() {
  local url
  url=$(env_value "$LF_SERVICE_ENV" DATABASE_URL)
  [[ $url =~ ^postgres(ql)?://[^@/]+@(127\.0\.0\.1|localhost)(:5432)?/([A-Za-z0-9_]+)$ ]] && printf '%s\n' "${BASH_REMATCH[4]}"
  return 0
}

configure_postgres_exporter() {
  local file=/etc/default/prometheus-postgres-exporter database password dsn
  database=$(local_database)
  if [ -z "$database" ]; then
    PG_LOCAL=0
    warn "DATABASE_URL in $LF_SERVICE_ENV is not this machine's PostgreSQL: set DATA_SOURCE_NAME in $file by hand (a role with pg_monitor)"
    return 0
  fi
  step "PostgreSQL role $MONITOR_ROLE for the postgres exporter"
  # The password lives in the exporter's env file only; a second run reuses it.
  password=$(sed -nE "s|^DATA_SOURCE_NAME='postgresql://$MONITOR_ROLE:([0-9a-f]+)@.*|\1|p" "$file" 2>/dev/null | tail -1)
  [ -n "$password" ] || password=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
  runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -v password="$password" -v database="$database" \
    -f "$MONITORING/postgres-monitor-role.sql" -d postgres >/dev/null
  if ! PGPASSWORD=$password PGCONNECT_TIMEOUT=5 psql -X -q -h 127.0.0.1 -U "$MONITOR_ROLE" -d "$database" -c 'select 1' >/dev/null 2>&1; then
    log "role $MONITOR_ROLE cannot log in with the password in $file: setting it"
    runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -v password="$password" -d postgres \
      -c "SELECT format('ALTER ROLE $MONITOR_ROLE LOGIN PASSWORD %L', :'password') \\gexec" >/dev/null
  fi
  dsn="postgresql://$MONITOR_ROLE:$password@127.0.0.1:5432/$database?sslmode=disable"
  printf '%s\n' "# Written by deploy/monitoring.sh (linkfort); read by systemd as root, so 0600." \
    "DATA_SOURCE_NAME='$dsn'" 'ARGS="--web.listen-address=127.0.0.1:9187"' |
    put "$file" 0600 root && RESTART[prometheus-postgres-exporter]=1
  return 0
}

configure() {
  step "configuration in $PROM_ETC and /etc/default"
  local ports source rule content
  mapfile -t ports < <(instance_ports)
  # Rendered into a variable first: a failure inside a pipeline would not stop the script.
  content=$(render_prometheus "${ports[@]}")
  put "$PROM_ETC/prometheus.yml" 0644 root <<<"$content" && RELOAD[prometheus]=1
  install -d -m 0755 "$PROM_ETC/rules"
  for source in "$MONITORING"/rules/*.yml; do
    put "$PROM_ETC/rules/${source##*/}" 0644 root <"$source" && RELOAD[prometheus]=1
  done
  # Rules a former release had and this one does not.
  for rule in "$PROM_ETC"/rules/*.yml; do
    if [ ! -f "$MONITORING/rules/${rule##*/}" ]; then rm -f "$rule"; log "removed $rule"; RELOAD[prometheus]=1; fi
  done
  # The webhook URL is a secret: readable by Alertmanager's user, no one else.
  content=$(render_alertmanager "$(env_value "$LF_SUPERVISOR_ENV" DISCORD_WEBHOOK_URL)")
  put "$PROM_ETC/alertmanager.yml" 0640 prometheus <<<"$content" && RELOAD[prometheus-alertmanager]=1
  put "$PROM_ETC/linkfort-discord.tmpl" 0644 root <"$MONITORING/linkfort-discord.tmpl" && RELOAD[prometheus-alertmanager]=1

  local header="# Written by deploy/monitoring.sh (linkfort): loopback only."
  printf '%s\n' "$header" 'ARGS="--web.listen-address=127.0.0.1:9090"' |
    put /etc/default/prometheus 0644 root && RESTART[prometheus]=1
  # No cluster port (9094 on every interface by default): one Alertmanager per VM.
  printf '%s\n' "$header" 'ARGS="--web.listen-address=127.0.0.1:9093 --cluster.listen-address="' |
    put /etc/default/prometheus-alertmanager 0644 root && RESTART[prometheus-alertmanager]=1
  # 9101: the default 9100 is the supervisor's status port.
  printf '%s\n' "$header" 'ARGS="--web.listen-address=127.0.0.1:9101"' |
    put /etc/default/prometheus-node-exporter 0644 root && RESTART[prometheus-node-exporter]=1
  # REDIS_ADDR may carry a password: an environment variable (0600 file), not an argument in ps.
  printf '%s\n' "$header" "REDIS_ADDR=$(env_value "$LF_SERVICE_ENV" REDIS_URL)" 'ARGS="-web.listen-address=127.0.0.1:9121"' |
    put /etc/default/prometheus-redis-exporter 0600 root && RESTART[prometheus-redis-exporter]=1
  configure_postgres_exporter
}

start_services() {
  step "starting the monitoring services"
  local unit
  for unit in "${PACKAGES[@]}"; do
    systemctl enable --quiet "$unit"
    if [ -n "${RESTART[$unit]:-}" ] || ! systemctl is-active --quiet "$unit"; then
      systemctl restart "$unit"; log "restarted $unit"
    elif [ -n "${RELOAD[$unit]:-}" ]; then
      systemctl reload "$unit"; log "reloaded $unit"
    fi
  done
}

# The value of an instant query that returns one number, "" when it returns nothing.
query_value() {
  curl -fsS --max-time 5 "$PROM_URL/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
    sed -nE 's/.*"value":\[[0-9.]+,"([^"]*)"\].*/\1/p'
}

# Every scrape target up (the first scrape comes within one 15 s interval), and the exporters
# reaching what they watch.
wait_targets_up() {
  step "waiting for Prometheus to scrape every target"
  local expected deadline down
  expected=$(($(instance_ports | wc -l) + 7))
  wait_http "$PROM_URL/-/ready" 'Ready' 60 || die "Prometheus is not ready after 60 s: journalctl -u prometheus -n 50"
  deadline=$(($(date +%s) + 90))
  until [ "$(query_value 'count(up == 1)')" = "$expected" ]; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      down=$(curl -fsS "$PROM_URL/api/v1/query" --data-urlencode 'query=up == 0' | grep -oE '"instance":"[^"]*","job":"[^"]*"' | tr '\n' ' ')
      die "not every target is up after 90 s (expected $expected); down: ${down:-none listed yet}; see $PROM_URL/targets (ssh -L 9090:127.0.0.1:9090)"
    fi
    sleep 1
  done
  if [ "$(query_value 'min(pg_up)')" != 1 ]; then
    [ "$PG_LOCAL" = 1 ] || { warn "the postgres exporter cannot query PostgreSQL yet: set its DATA_SOURCE_NAME"; return 0; }
    die "the postgres exporter cannot query PostgreSQL: journalctl -u prometheus-postgres-exporter -n 20"
  fi
  [ "$(query_value 'min(redis_up)')" = 1 ] || die "the redis exporter cannot reach Redis: journalctl -u prometheus-redis-exporter -n 20"
  log "all $expected targets up; Prometheus $PROM_URL, Alertmanager http://127.0.0.1:9093 (loopback: ssh -L 9090:127.0.0.1:9090 …)"
}

main() {
  case "${1:-}" in
    render-prometheus) shift; render_prometheus "$@"; return ;;
    render-alertmanager) shift; render_alertmanager "${1:-}"; return ;;
    "") ;;
    *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
  require_root
  if [ ! -f "$LF_SERVICE_ENV" ] || [ ! -f "$LF_SUPERVISOR_ENV" ]; then die "no $LF_SERVICE_ENV or $LF_SUPERVISOR_ENV: run deploy/install.sh first"; fi
  exec 8>/run/linkfort-monitoring.lock
  flock -n 8 || die "another deploy/monitoring.sh is running"
  install_packages
  configure
  start_services
  wait_targets_up
}

main "$@"
