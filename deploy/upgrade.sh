#!/usr/bin/env bash
# upgrade.sh: moves a running linkfort VM to a new release with no request lost, or back.
#
#   deploy/upgrade.sh FILE.tar.gz   verify, unpack to releases/<version>, migrate, switch current
#                                   (the old one becomes previous), roll the instances one at a time
#                                   through the supervisor, restart the supervisor last
#   deploy/upgrade.sh --rollback    switch back to previous the same way (and previous becomes the
#                                   release you left)
#
# After a successful upgrade the clicks that an older release left in the Redis click stream are
# written to PostgreSQL and the stream deleted (`linkfort clicks drain-stream`): releases with the
# click spool no longer read it.
#
# When an instance does not become ready on the new release, the roll stops there, current goes
# back to the old release, the instances are rolled again, and the script exits 1. Migrations are
# not undone: a release's migrations must work with the release before it (docs/RUNBOOK.md).
#
# Several VMs (install.sh --role): on an app VM this is the same, one app VM at a time while the
# edge sends traffic to the others (docs/RUNBOOK.md, "Cluster install"); on the edge VM it
# installs the release's Caddyfile and reloads Caddy (reverted when Caddy refuses it); a db VM has
# no release to upgrade (its packages come from apt).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$HERE/lib/common.sh"

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

# Unpacks and verifies the tarball into releases/<version>; prints that folder.
stage_release() {
  local tarball=$1 unpacked version dest
  step "unpacking and verifying $tarball" >&2
  unpacked=$(unpack_tarball "$tarball")
  # A failed check must not leave the staging folder behind.
  ( verify_release "$unpacked" ) >&2 || { rm -rf "$(dirname "$unpacked")"; exit 1; }
  version=$(release_version "$unpacked")
  dest=$LF_RELEASES/$version
  if [ -d "$dest" ]; then
    local same=1
    cmp -s "$unpacked/SHA256SUMS" "$dest/SHA256SUMS" || same=
    rm -rf "$(dirname "$unpacked")"
    [ -n "$same" ] || die "$dest exists with other contents than this $version: give the new build its own version"
    log "release $version is already unpacked in $dest" >&2
  else
    mv "$unpacked" "$dest"
    rmdir "$(dirname "$unpacked")"
    chown -R root:root "$dest" && chmod -R go-w "$dest"
  fi
  printf '%s\n' "$dest"
}

# The binary must run and report the version its folder claims, before anything is switched.
check_binary() {
  local rel=$1 reported
  reported=$("$rel/linkfort" version 2>&1) || die "$rel/linkfort does not run: $reported"
  [ "$reported" = "$(release_version "$rel")" ] || die "$rel/linkfort reports version \"$reported\", its VERSION file says \"$(release_version "$rel")\""
}

# Installs TARGET's units, drop-in and Caddyfile where they differ; reloads what changed.
install_config_of() {
  local rel=$1 unit changed='' caddyfile_changed=''
  for unit in "$rel"/systemd/*.service "$rel"/systemd/*.target; do
    [ -f "$unit" ] || continue
    if install_if_changed "$unit" "$LF_UNIT_DIR/$(basename "$unit")" 0644; then changed=1; fi
  done
  if install_if_changed "$rel/deploy/caddy-dropin.conf" "$LF_CADDY_DROPIN" 0644; then changed=1; CADDY_RESTART=1; fi
  if [ -n "$changed" ]; then systemctl daemon-reload; log "systemctl daemon-reload"; fi
  if install_if_changed "$rel/Caddyfile" "$LF_CADDYFILE" 0644; then caddyfile_changed=1; fi
  # A reload keeps connections; only a new environment (the drop-in) needs a restart.
  if [ -n "${CADDY_RESTART:-}" ]; then systemctl restart caddy; log "restarted caddy"; CADDY_RESTART=''
  elif [ -n "$caddyfile_changed" ]; then systemctl reload caddy; log "reloaded caddy"; fi
  return 0
}

# Switches current to TARGET (previous to PREV), rolls the instances, restarts the supervisor, and
# checks every instance and the supervisor report TARGET's version. Returns 1 at the first failure.
deploy_release() {
  local target=$1 prev=$2 version
  version=$(release_version "$target")
  step "switching $LF_CURRENT to $version"
  switch_link "$LF_CURRENT" "$target"
  if [ -n "$prev" ]; then switch_link "$LF_PREVIOUS" "$prev"; else rm -f "$LF_PREVIOUS"; fi
  log "current -> $target, previous -> ${prev:-none}"
  install_config_of "$target"
  # A unit that crash-looped on a bad release may have hit its start limit; systemd would refuse it.
  mapfile -t units < <(instance_units)
  systemctl reset-failed "${units[@]}" linkfort-supervisor.service 2>/dev/null || true
  systemctl is-active --quiet linkfort-supervisor || systemctl start linkfort-supervisor || { warn "linkfort-supervisor does not start"; return 1; }
  wait_http "$LF_STATUS_URL/status" '"instances"' 30 || { warn "the supervisor does not answer on $LF_STATUS_URL"; return 1; }

  step "rolling the instances to $version, one at a time"
  supervisor_cli "$CLI" rolling-restart || { warn "the rolling restart stopped (see above; journalctl -u 'linkfort@*' -n 50)"; return 1; }
  step "restarting the supervisor on $version"
  systemctl restart linkfort-supervisor || { warn "linkfort-supervisor $version does not start: journalctl -u linkfort-supervisor -n 50"; return 1; }
  wait_http "$LF_STATUS_URL/status" "\"version\":\"$version\"" 30 || { warn "the supervisor does not report $version on $LF_STATUS_URL/status"; return 1; }

  local wrong
  wrong=$(instance_versions | awk -v v="$version" '$2 != v')
  [ -z "$wrong" ] || { warn "instances not on $version: $wrong"; return 1; }
  log "every instance and the supervisor run $version"
}

# The checksums of a release's monitoring files (monitoring/ and the script that installs them).
monitoring_sums() { grep -E ' [ *](monitoring/|deploy/monitoring\.sh$)' "$1/SHA256SUMS" || true; }

# A VM installed --with-monitoring gets the new release's rules and dashboards too. Monitoring
# trouble does not undo a good deploy: it is reported, and monitoring.sh can be run again.
refresh_monitoring() {
  local rel=$1 from=$2
  grep -qs INSTANCE_PORTS /etc/prometheus/prometheus.yml || return 0
  [ -x "$rel/deploy/monitoring.sh" ] || return 0
  if [ "$(monitoring_sums "$rel")" = "$(monitoring_sums "$from")" ]; then
    log "monitoring files unchanged from $(basename "$from"): Prometheus and Alertmanager left alone"
    return 0
  fi
  step "monitoring configuration of $(basename "$rel")"
  "$rel/deploy/monitoring.sh" || warn "deploy/monitoring.sh failed (see above): the upgrade itself is done; run $rel/deploy/monitoring.sh again"
}

# Releases before the click spool kept clicks in a Redis stream; once every instance runs REL none
# appends to it, so what is left there is written now (through click receipts: a second run counts
# nothing twice) and the stream deleted. A release without the command has nothing to drain.
drain_click_stream() {
  local rel=$1
  "$rel/linkfort" help 2>/dev/null | grep -q 'clicks drain-stream' || return 0
  step "writing the clicks left in the Redis click stream of the previous release"
  run_as_unit "$LF_SERVICE_ENV" "$LF_USER" "$rel/linkfort" clicks drain-stream \
    || warn "draining the old click stream failed (see above): the upgrade itself is done; run: systemd-run --wait --pipe -p EnvironmentFile=$LF_SERVICE_ENV -p User=$LF_USER $rel/linkfort clicks drain-stream"
}

# The edge VM: its Caddyfile and drop-in from TARGET, applied by a reload (a restart when the
# drop-in changed). Returns 1 when Caddy does not take it or answers nothing after it.
deploy_edge_release() {
  local target=$1 prev=$2 site changed='' restart=''
  step "switching $LF_CURRENT to $(basename "$target") (edge: Caddy's configuration)"
  switch_link "$LF_CURRENT" "$target"
  if [ -n "$prev" ]; then switch_link "$LF_PREVIOUS" "$prev"; else rm -f "$LF_PREVIOUS"; fi
  if install_if_changed "$target/deploy/caddy-dropin.conf" "$LF_CADDY_DROPIN" 0644; then systemctl daemon-reload; restart=1; fi
  if install_if_changed "$target/Caddyfile" "$LF_CADDYFILE" 0644; then changed=1; fi
  if [ -n "$restart" ]; then systemctl restart caddy || { warn "caddy does not start: journalctl -u caddy -n 50"; return 1; }; log "restarted caddy"
  elif [ -n "$changed" ]; then systemctl reload caddy || { warn "caddy refused the new Caddyfile: journalctl -u caddy -n 50"; return 1; }; log "reloaded caddy"
  else log "Caddyfile and drop-in unchanged: Caddy left alone"; fi
  site=$(env_value "$LF_CADDY_ENV" LINKFORT_SITE)
  if [[ $site == :* ]]; then
    wait_http "http://127.0.0.1$site/ready" '"ready"' 30 || { warn "nothing answers http://127.0.0.1$site/ready through the edge"; return 1; }
  fi
  return 0
}

# upgrade.sh on the edge VM: no instances, no migrations; back to OLD when Caddy does not take it.
upgrade_edge() {
  local new=$1 old=$2 old_prev=$3
  if deploy_edge_release "$new" "$old"; then
    echo
    echo "linkfort edge $(basename "$new") is running (previous: $(basename "$old"); back with: $LF_CURRENT/deploy/upgrade.sh --rollback)"
    return 0
  fi
  warn "$(basename "$new") failed on the edge; going back to $(basename "$old")"
  deploy_edge_release "$old" "$old_prev" || { log "ERROR: going back to $(basename "$old") failed too: journalctl -u caddy -n 50" >&2; exit 2; }
  die "edge upgrade to $(basename "$new") FAILED and was rolled back to $(basename "$old")"
}

# Back to where we started after a failed deploy; exits 1 (back and serving) or 2 (not even that).
revert() {
  local from=$1 back=$2 back_prev=$3
  warn "$(basename "$from") failed; going back to $(basename "$back")"
  if deploy_release "$back" "$back_prev"; then
    log "back on $(basename "$back"); $(basename "$from") stays in $from for inspection (journalctl -u 'linkfort@*' -u linkfort-supervisor --since '-15 min')"
    die "deploy of $(basename "$from") FAILED and was rolled back to $(basename "$back") (its migrations, if any, stay applied)"
  fi
  log "ERROR: going back to $(basename "$back") failed too. Look at: linkfort-supervisor status; systemctl status 'linkfort@*'; journalctl -u 'linkfort@*' -n 100" >&2
  exit 2
}

main() {
  [ $# -eq 1 ] || usage
  case $1 in -h|--help) usage 0 ;; esac
  require_root
  take_lock
  if ! has_role app && ! has_role all && ! has_role edge; then
    die "this is a db VM: it runs no linkfort release (PostgreSQL, Patroni and etcd come from apt). A new release's cluster settings: run its deploy/install.sh --role db with the same arguments"
  fi
  local old old_prev new
  old=$(link_target "$LF_CURRENT")
  [ -d "${old:-/nonexistent}" ] || die "linkfort is not installed here ($LF_CURRENT is missing): run deploy/install.sh first"
  old_prev=$(link_target "$LF_PREVIOUS")
  # The rolling-restart request goes to the running daemon; the CLI of the release it runs sends it.
  CLI=$old

  if [ "$1" = --rollback ]; then
    [ -d "${old_prev:-/nonexistent}" ] || die "there is no previous release to go back to ($LF_PREVIOUS)"
    new=$old_prev
    step "rolling back from $(basename "$old") to $(basename "$new")"
  else
    [[ $1 != -* ]] || usage
    new=$(stage_release "$1")
    if [ "$new" = "$old" ]; then log "$(basename "$new") is already the current release: nothing to do"; exit 0; fi
  fi
  if has_role edge; then upgrade_edge "$new" "$old" "$old_prev"; exit 0; fi
  if [ "$1" != --rollback ]; then
    check_binary "$new"
    step "database migrations of $(basename "$new")"
    run_as_unit "$LF_SERVICE_ENV" "$LF_USER" "$new/linkfort" migrate || die "migrations of $(basename "$new") failed; nothing was switched, $(basename "$old") keeps serving"
  fi

  deploy_release "$new" "$old" || revert "$new" "$old" "$old_prev"
  drain_click_stream "$new"
  refresh_monitoring "$new" "$old"
  echo
  echo "linkfort $(basename "$new") is running (previous: $(basename "$old"); back with: $LF_CURRENT/deploy/upgrade.sh --rollback)"
  echo "upgrade took $(($(date +%s) - LF_STARTED)) s"
}

main "$@"
exit
