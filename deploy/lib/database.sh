# shellcheck shell=bash
# install.sh's local PostgreSQL roles and database, Redis's ACL user, and waiting for PostgreSQL
# and Redis to answer.
# Sourced after common.sh.

# Runs "$@" until it succeeds, for at most SECONDS.
wait_for() {
  local what=$1 seconds=$2; shift 2
  local deadline=$(($(date +%s) + seconds))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || die "$what is not up after $seconds s"
    sleep 0.5
  done
}

# PING as linkfort's ACL user when REDIS_URL carries one (the password through the environment,
# never on a command line), else as the default user.
# shellcheck disable=SC2317 # called through wait_for
redis_up() {
  local url
  url=$(env_value "$LF_SERVICE_ENV" REDIS_URL)
  if [[ $url =~ ^redis://$LF_REDIS_USER:([0-9a-f]+)@ ]]; then
    [ "$(REDISCLI_AUTH=${BASH_REMATCH[1]} redis-cli --user "$LF_REDIS_USER" -h 127.0.0.1 ping 2>/dev/null)" = PONG ]
  else
    [ "$(redis-cli -h 127.0.0.1 ping 2>/dev/null)" = PONG ]
  fi
}

# The managed local DATABASE_URL of the service (role $LF_USER on this machine), or nothing.
local_service_url() { [[ $1 =~ ^postgres(ql)?://$LF_USER:([^@/]+)@(127\.0\.0\.1|localhost)(:5432)?/linkfort$ ]]; }

# supervisor.env's DATABASE_URL: for this machine's database a role of its own (kept when there,
# made when missing or still the service's URL, as releases before it wrote); else the service's.
supervisor_database_url() {
  local service_url=$1 current
  current=$(env_value "$LF_SUPERVISOR_ENV" DATABASE_URL)
  if ! local_service_url "$service_url"; then echo "${current:-$service_url}"; return 0; fi
  if [ -n "$current" ] && [ "$current" != "$service_url" ]; then echo "$current"; return 0; fi
  echo "postgres://$LF_SUPERVISOR_ROLE:$(generate_password)@127.0.0.1:5432/linkfort"
}

psql_admin() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 "$@"; }

# Role and database from DATABASE_URL in linkfort.env, created when missing. The password is the
# one in the env file; it is set on the role only when logging in with it fails.
setup_database() {
  step "PostgreSQL role and database"
  systemctl enable --now postgresql >/dev/null 2>&1 || true
  wait_for "PostgreSQL" 60 psql_admin -c 'select 1'
  local url password
  url=$(env_value "$LF_SERVICE_ENV" DATABASE_URL)
  if ! local_service_url "$url"; then
    warn "DATABASE_URL in $LF_SERVICE_ENV is not this machine's linkfort database: not managing a local role or database"
    return 0
  fi
  password=${BASH_REMATCH[2]}
  # NOCREATEDB: nothing the service does needs it; the restore check's scratch databases are the
  # supervisor's role's (an existing role loses CREATEDB here too).
  psql_admin -v password="$password" -v role="$LF_USER" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN NOCREATEDB PASSWORD %L', :'role', :'password')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I NOCREATEDB', :'role') FROM pg_roles WHERE rolname = :'role' AND rolcreatedb \gexec
SELECT format('CREATE DATABASE linkfort OWNER %I', :'role')
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'linkfort') \gexec
SQL
  role_login "$LF_USER" "$password" "$LF_SERVICE_ENV"
  setup_supervisor_role
}

# Sets ROLE's password from FILE when logging in with it fails.
role_login() {
  local role=$1 password=$2 file=$3
  PGPASSWORD=$password PGCONNECT_TIMEOUT=5 psql -X -q -h 127.0.0.1 -U "$role" -d linkfort -c 'select 1' >/dev/null 2>&1 && return 0
  log "role $role cannot log in with the password in $file: setting it"
  psql_admin -v password="$password" -v role="$role" <<'SQL'
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'role', :'password') \gexec
SQL
}

# The supervisor's role: CREATEDB for the scratch databases, and a member of the service's role so
# it may dump and replace the service's tables (its restores run as that role: they stay its).
setup_supervisor_role() {
  local url password
  url=$(env_value "$LF_SUPERVISOR_ENV" DATABASE_URL)
  if ! [[ $url =~ ^postgres(ql)?://$LF_SUPERVISOR_ROLE:([^@/]+)@(127\.0\.0\.1|localhost)(:5432)?/linkfort$ ]]; then
    warn "DATABASE_URL in $LF_SUPERVISOR_ENV is not role $LF_SUPERVISOR_ROLE here: the weekly restore check needs a role that may create databases"
    return 0
  fi
  password=${BASH_REMATCH[2]}
  psql_admin -v password="$password" -v role="$LF_SUPERVISOR_ROLE" -v member_of="$LF_USER" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', :'role', :'password')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('GRANT %I TO %I', :'member_of', :'role')
  WHERE NOT pg_has_role(:'role', :'member_of', 'MEMBER') \gexec
SQL
  role_login "$LF_SUPERVISOR_ROLE" "$password" "$LF_SUPERVISOR_ENV"
}

# Redis's ACL user for linkfort (password as a SHA-256 in a file only root and redis read) with
# every command but the admin ones, and the default user off: no password, no access.
setup_redis() {
  step "Redis ACL user $LF_REDIS_USER"
  local url hash changed='' tmp
  url=$(env_value "$LF_SERVICE_ENV" REDIS_URL)
  if ! [[ $url =~ ^redis://$LF_REDIS_USER:([0-9a-f]+)@127\.0\.0\.1:6379/[0-9]+$ ]]; then
    warn "REDIS_URL in $LF_SERVICE_ENV is not this machine's Redis with user $LF_REDIS_USER: not managing Redis users"
  elif grep -Eq '^[[:space:]]*aclfile[[:space:]]' "$LF_REDIS_CONF"; then
    warn "$LF_REDIS_CONF uses an aclfile: add user $LF_REDIS_USER there by hand (see docs/SECURITY.md)"
  else
    hash=$(printf '%s' "${BASH_REMATCH[1]}" | sha256sum | cut -d' ' -f1)
    tmp=$(mktemp)
    printf '%s\n' "# Written by linkfort's deploy/install.sh; the password is in /etc/linkfort/linkfort.env." \
      "user default off" "user $LF_REDIS_USER on #$hash ~* &* +@all -@admin" >"$tmp"
    if install_if_changed "$tmp" "$LF_REDIS_ACL" 0640; then changed=1; fi
    rm -f "$tmp"
    chgrp redis "$LF_REDIS_ACL"
    if ! grep -qxF "include $LF_REDIS_ACL" "$LF_REDIS_CONF"; then
      printf '\n# linkfort: ACL users (deploy/install.sh)\ninclude %s\n' "$LF_REDIS_ACL" >>"$LF_REDIS_CONF"
      log "$LF_REDIS_CONF: include $LF_REDIS_ACL"
      changed=1
    fi
    # Redis holds only a cache and copies of bans: a restart empties it and nothing is lost.
    if [ -n "$changed" ]; then systemctl restart redis-server; log "restarted redis-server"; fi
  fi
  systemctl enable --now redis-server >/dev/null 2>&1 || true
  wait_for "Redis" 30 redis_up
}
