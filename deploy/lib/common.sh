# shellcheck shell=bash disable=SC2034
# Shared by install.sh, upgrade.sh and uninstall.sh: the VM layout (deploy contract), logging,
# and the few operations all three need. Sourced, never run.

readonly LF_PREFIX=/opt/linkfort
readonly LF_RELEASES=$LF_PREFIX/releases
readonly LF_CURRENT=$LF_PREFIX/current
readonly LF_PREVIOUS=$LF_PREFIX/previous
readonly LF_ETC=/etc/linkfort
readonly LF_SERVICE_ENV=$LF_ETC/linkfort.env
readonly LF_SUPERVISOR_ENV=$LF_ETC/supervisor.env
readonly LF_CADDY_ENV=$LF_ETC/caddy.env
readonly LF_ADMIN_KEY=$LF_ETC/admin-key
# The roles install.sh --role gave this VM, space-separated: all, or db, app, edge, "db app"…
readonly LF_ROLE_FILE=$LF_ETC/role
readonly LF_STATE=/var/lib/linkfort
readonly LF_BACKUPS=$LF_STATE/backups
readonly LF_USER=linkfort
# The supervisor's PostgreSQL role: a member of $LF_USER that may create scratch databases.
readonly LF_SUPERVISOR_ROLE=linkfort_supervisor
readonly LF_REDIS_USER=linkfort
# REDIS_URL as releases before the ACL user wrote it: replaced by one with credentials.
readonly LF_REDIS_OPEN_URL=redis://127.0.0.1:6379/0
readonly LF_REDIS_CONF=/etc/redis/redis.conf
readonly LF_REDIS_ACL=/etc/redis/linkfort-acl.conf
readonly LF_UNIT_DIR=/etc/systemd/system
readonly LF_CADDYFILE=/etc/caddy/Caddyfile
readonly LF_CADDYFILE_ORIG=/etc/caddy/Caddyfile.dpkg-linkfort-orig
readonly LF_CADDY_DROPIN=$LF_UNIT_DIR/caddy.service.d/linkfort.conf
readonly LF_LOCK=/run/linkfort-deploy.lock
readonly LF_STATUS_URL=http://127.0.0.1:9100

LF_STARTED=$(date +%s)

# Whether this VM has ROLE ("all" for a VM installed before roles existed).
has_role() { local roles; roles=$(cat "$LF_ROLE_FILE" 2>/dev/null) || roles=all; [[ " ${roles:-all} " == *" $1 "* ]]; }

log() { printf '%s [%3ss] %s\n' "$(date +%H:%M:%S)" "$(($(date +%s) - LF_STARTED))" "$*"; }
step() { log "==> $*"; }
warn() { log "WARNING: $*" >&2; }
die() { log "ERROR: $*" >&2; exit 1; }

require_root() { [ "$(id -u)" = 0 ] || die "run as root (sudo $0 …)"; }

# One install/upgrade/uninstall at a time: two would fight over the symlinks and units.
take_lock() {
  exec 9>"$LF_LOCK"
  flock -n 9 || die "another linkfort install/upgrade/uninstall is running (lock $LF_LOCK)"
}

# Copies SRC to DEST with MODE only when the contents or mode differ. Exit 0 = changed, 1 = same,
# so a second run touches nothing (no new mtime, no daemon-reload, no restart).
install_if_changed() {
  local src=$1 dest=$2 mode=$3
  if [ -f "$dest" ] && cmp -s "$src" "$dest" && [ "$(stat -c %a "$dest")" = "${mode#0}" ]; then return 1; fi
  install -D -m "$mode" -o root -g root "$src" "$dest"
  log "installed $dest"
  return 0
}

# Points NAME at TARGET atomically (rename over the old link), so a reader never sees no link.
switch_link() {
  local name=$1 target=$2
  ln -sfn "$target" "$name.new"
  mv -Tf "$name.new" "$name"
}

# The existing folder a link points to, resolved ("" when there is none).
link_target() { readlink -e "$1" 2>/dev/null || true; }

release_version() {
  local version
  version=$(cat "$1/VERSION" 2>/dev/null) || die "$1 has no VERSION file: not a linkfort release folder"
  [[ $version =~ ^[0-9A-Za-z][0-9A-Za-z._+-]*$ ]] || die "$1/VERSION holds \"$version\", which is not a version"
  printf '%s\n' "$version"
}

# Every file of the release is checked against SHA256SUMS, and every file must be listed there.
verify_release() {
  local dir=$1 listed actual bin
  [ -f "$dir/SHA256SUMS" ] || die "$dir has no SHA256SUMS: refusing an unverifiable release"
  (cd "$dir" && sha256sum --quiet --strict -c SHA256SUMS) || die "checksum mismatch in $dir (see the lines above): the tarball is damaged or was changed"
  listed=$(sed -E 's/^[0-9a-f]{64} [ *]//; s|^\./||' "$dir/SHA256SUMS" | sort)
  actual=$(cd "$dir" && find . -type f ! -name SHA256SUMS | sed 's|^\./||' | sort)
  [ "$listed" = "$actual" ] || die "files in $dir differ from the ones SHA256SUMS lists: $(comm -3 <(echo "$listed") <(echo "$actual") | tr -s ' \t\n' ' ')"
  for bin in linkfort linkfort-supervisor; do [ -x "$dir/$bin" ] || die "$dir/$bin is missing or not executable"; done
}

# Unpacks a release tarball (one top folder linkfort-<version>/) into a fresh folder under
# $LF_RELEASES (same file system, so the final move is a rename) and prints that folder's path.
unpack_tarball() {
  local tarball=$1 staging top
  [ -f "$tarball" ] || die "no such tarball: $tarball"
  mkdir -p "$LF_RELEASES"
  staging=$(mktemp -d "$LF_RELEASES/.unpack-XXXXXX")
  tar -xzf "$tarball" -C "$staging" --no-same-owner || { rm -rf "$staging"; die "cannot unpack $tarball"; }
  top=$(find "$staging" -mindepth 1 -maxdepth 1)
  if [ "$(printf '%s\n' "$top" | wc -l)" != 1 ] || [ ! -d "$top" ]; then
    rm -rf "$staging"; die "$tarball must hold exactly one top folder (linkfort-<version>/)"
  fi
  printf '%s\n' "$top"
}

# Runs a command the way the units run (systemd parses the env file, same user), so the env
# file's syntax is exactly systemd's. Output and exit code come back.
run_as_unit() {
  local env_file=$1 user=$2; shift 2
  systemd-run --quiet --wait --pipe --collect --service-type=exec \
    -p EnvironmentFile="$env_file" -p User="$user" -p WorkingDirectory=/ -- "$@"
}

# Instance ports from supervisor.env's INSTANCE_PORTS ("8081-8083" or "8081,8082,…"), one a line.
instance_ports() {
  local spec part parts
  spec=$(env_value "$LF_SUPERVISOR_ENV" INSTANCE_PORTS)
  [ -n "$spec" ] || die "INSTANCE_PORTS is not set in $LF_SUPERVISOR_ENV"
  IFS=, read -ra parts <<<"$spec"
  for part in "${parts[@]}"; do
    part=${part// /}
    if [[ $part =~ ^([0-9]+)-([0-9]+)$ ]]; then seq "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
    elif [[ $part =~ ^[0-9]+$ ]]; then echo "$part"
    else die "INSTANCE_PORTS=\"$spec\" in $LF_SUPERVISOR_ENV is not a port list"; fi
  done
}

# KEY's value in an env file (last assignment wins, surrounding quotes dropped); "" when unset.
env_value() {
  local file=$1 key=$2 line
  line=$(grep -E "^[[:space:]]*${key}=" "$file" 2>/dev/null | tail -1) || true
  line=${line#*=}
  line=${line%\"}; line=${line#\"}
  printf '%s\n' "$line"
}

instance_units() { local p; for p in $(instance_ports); do printf 'linkfort@%s.service\n' "$p"; done; }

# Polls URL until it answers 200 with a body matching PATTERN, for at most SECONDS.
wait_http() {
  local url=$1 pattern=$2 seconds=$3 deadline body
  deadline=$(($(date +%s) + seconds))
  while :; do
    body=$(curl -fsS --max-time 2 "$url" 2>/dev/null) && [[ $body =~ $pattern ]] && return 0
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.3
  done
}

# Waits until every instance answers /ready; names the first that does not.
wait_instances_ready() {
  local port
  for port in $(instance_ports); do
    wait_http "http://127.0.0.1:$port/ready" '"ready"' "${1:-60}" \
      || die "instance $port is not ready after ${1:-60} s: journalctl -u linkfort@$port -n 50"
  done
}

# The version each instance reports in /health, one "PORT VERSION" a line.
instance_versions() {
  local port body
  for port in $(instance_ports); do
    body=$(curl -fsS --max-time 2 "http://127.0.0.1:$port/health" 2>/dev/null) || body=
    [[ $body =~ \"version\":\"([^\"]*)\" ]] && echo "$port ${BASH_REMATCH[1]}" || echo "$port unreachable"
  done
}

# `linkfort-supervisor ARGS` from release folder REL, with the daemon's own env (STATUS_PORT…).
supervisor_cli() {
  local rel=$1; shift
  run_as_unit "$LF_SUPERVISOR_ENV" root "$rel/linkfort-supervisor" "$@"
}

# Prints, one per line, those of the given packages dpkg does not have installed.
missing_packages() {
  local pkg
  for pkg in "$@"; do
    [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null)" = "ii " ] || printf '%s\n' "$pkg"
  done
}

# apt-get installs those of the given packages that are not installed yet, in one transaction;
# nothing when all are there (a re-run stays quiet and fast).
install_missing_packages() {
  local missing=()
  mapfile -t missing < <(missing_packages "$@")
  if [ ${#missing[@]} -eq 0 ]; then log "packages already installed: $*"; return; fi
  step "installing packages: ${missing[*]}"
  apt-get update -q || warn "apt-get update failed; trying with the package lists already here"
  if [[ " ${missing[*]} " == *" caddy "* ]] && ! [[ $(apt-cache policy caddy 2>/dev/null | sed -n 's/^ *Candidate: //p') =~ ^[0-9] ]]; then
    die "no caddy package in this release's repositories (Ubuntu 22.04 has none; Debian 12 and Ubuntu 24.04 do). Add Caddy's own apt repository (https://caddyserver.com/docs/install#debian-ubuntu-raspbian), then run install.sh again"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || die "apt-get install ${missing[*]} failed (see above)"
}
