# shellcheck shell=bash
# install.sh's local PostgreSQL role and database, and waiting for PostgreSQL and Redis to answer.
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

# shellcheck disable=SC2317 # called through wait_for
redis_up() { [ "$(redis-cli -h 127.0.0.1 ping 2>/dev/null)" = PONG ]; }

psql_admin() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 "$@"; }

# Role and database from DATABASE_URL in linkfort.env, created when missing. The password is the
# one in the env file; it is set on the role only when logging in with it fails.
setup_database() {
  step "PostgreSQL role and database"
  systemctl enable --now postgresql >/dev/null 2>&1 || true
  wait_for "PostgreSQL" 60 psql_admin -c 'select 1'
  local url password
  url=$(env_value "$LF_SERVICE_ENV" DATABASE_URL)
  if ! [[ $url =~ ^postgres(ql)?://$LF_USER:([^@/]+)@(127\.0\.0\.1|localhost)(:5432)?/linkfort$ ]]; then
    warn "DATABASE_URL in $LF_SERVICE_ENV is not this machine's linkfort database: not managing a local role or database"
    return 0
  fi
  password=${BASH_REMATCH[2]}
  psql_admin -v password="$password" -v role="$LF_USER" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', :'role', :'password')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('CREATE DATABASE linkfort OWNER %I', :'role')
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'linkfort') \gexec
SQL
  if ! PGPASSWORD=$password PGCONNECT_TIMEOUT=5 psql -X -q -h 127.0.0.1 -U "$LF_USER" -d linkfort -c 'select 1' >/dev/null 2>&1; then
    log "role $LF_USER cannot log in with the password in $LF_SERVICE_ENV: setting it"
    psql_admin -v password="$password" -v role="$LF_USER" <<'SQL'
SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', :'role', :'password') \gexec
SQL
  fi
  wait_for "Redis" 30 redis_up
}
