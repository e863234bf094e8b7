# shellcheck shell=bash disable=SC2034
# install.sh's cluster roles (db, app, edge): the host lists, the cluster env file that every VM
# of one cluster shares, and the database URL the app VMs use. Sourced after common.sh and
# env-files.sh.

# Every key of the cluster env file; install.sh --role db makes each a fresh random password.
readonly CLUSTER_ENV_KEYS=(LINKFORT_DB_PASSWORD SUPERVISOR_DB_PASSWORD REPLICATION_PASSWORD SUPERUSER_PASSWORD REWIND_PASSWORD)
# The ports are fixed across the cluster (docs/RUNBOOK.md, "Cluster install").
readonly PG_PORT=5432 PATRONI_PORT=8008 ETCD_CLIENT_PORT=2379 ETCD_PEER_PORT=2380
# Where the app VMs' clients come from, as the local Caddy (space-separated) and the instances
# (comma-separated) trust their X-Forwarded-For: the edge in front is on a private network.
readonly PRIVATE_NETWORKS=(10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7)

# A host as the lists take it: a DNS name or an IPv4 address, no port, no scheme.
valid_host() { [[ $1 =~ ^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$ ]]; }

# --db-hosts H1,H2,H3 → DB_HOST_LIST; an odd count (etcd's quorum is a majority), no repeats.
parse_db_hosts() {
  local spec=$1 host seen=' '
  IFS=, read -ra DB_HOST_LIST <<<"$spec"
  [ ${#DB_HOST_LIST[@]} -gt 0 ] || die "--db-hosts is empty: give the db VMs as H1,H2,H3"
  for host in "${DB_HOST_LIST[@]}"; do
    valid_host "$host" || die "--db-hosts: \"$host\" is not a host name or IPv4 address (the list is H1,H2,H3: no ports, no spaces; PostgreSQL is always on $PG_PORT)"
    [[ $seen != *" $host "* ]] || die "--db-hosts names $host twice"
    seen+="$host "
  done
  case ${#DB_HOST_LIST[@]} in
    1|3|5|7) ;;
    *) die "--db-hosts lists ${#DB_HOST_LIST[@]} hosts: etcd needs an odd number (3 for a cluster that survives losing one; 1 for a test)" ;;
  esac
}

# --app-hosts A1:8080,A2:8080 → APP_UPSTREAMS ("A1:8080 A2:8080", as Caddy takes them).
parse_app_hosts() {
  local spec=$1 entry list=() port
  IFS=, read -ra list <<<"$spec"
  [ ${#list[@]} -gt 0 ] || die "--app-hosts is empty: give the app VMs as A1:8080,A2:8080"
  APP_UPSTREAMS=''
  for entry in "${list[@]}"; do
    port=${entry##*:}
    if [[ $entry != *:* ]] || ! valid_host "${entry%:*}" || ! [[ $port =~ ^[1-9][0-9]{0,4}$ ]] || [ "$port" -gt 65535 ]; then
      die "--app-hosts: \"$entry\" is not HOST:PORT (e.g. app1:8080, where the app VM's Caddy listens)"
    fi
    [[ " $APP_UPSTREAMS " != *" $entry "* ]] || die "--app-hosts names $entry twice"
    APP_UPSTREAMS+="${APP_UPSTREAMS:+ }$entry"
  done
}

# KEY's value in the cluster env file, which must hold it as hex digits (generate_password).
cluster_secret() {
  local value
  value=$(env_value "$CLUSTER_ENV" "$1")
  [[ $value =~ ^[0-9A-Za-z]{16,}$ ]] || die "$CLUSTER_ENV has no usable $1 (16 or more letters and digits): copy the file the first db VM's install wrote"
  printf '%s\n' "$value"
}

# The db role makes the file when it is missing; every other VM must have been given a copy.
ensure_cluster_env() {
  local may_create=$1 key
  if [ ! -e "$CLUSTER_ENV" ]; then
    [ -n "$may_create" ] || die "--cluster-env $CLUSTER_ENV does not exist: copy it (mode 0600) from the first db VM, where install.sh --role db wrote it"
    step "cluster secrets in $CLUSTER_ENV (new: copy this file to every other VM of the cluster)"
    install -d -m 0700 "$(dirname "$CLUSTER_ENV")"
    (
      umask 077
      echo "# linkfort cluster secrets, written by install.sh --role db on $(hostname) at $(date -u +%FT%TZ)."
      echo "# The same file on every db, app and edge VM of this cluster; keep it mode 0600."
      for key in "${CLUSTER_ENV_KEYS[@]}"; do echo "$key=$(generate_password)"; done
    ) >"$CLUSTER_ENV.new"
    mv "$CLUSTER_ENV.new" "$CLUSTER_ENV"
    CLUSTER_ENV_CREATED=1
  fi
  [ -f "$CLUSTER_ENV" ] || die "--cluster-env $CLUSTER_ENV is not a file"
  [ "$(stat -c %a "$CLUSTER_ENV")" = 600 ] || { chmod 0600 "$CLUSTER_ENV"; log "$CLUSTER_ENV: mode 0600 (it holds the cluster's passwords)"; }
  for key in "${CLUSTER_ENV_KEYS[@]}"; do cluster_secret "$key" >/dev/null; done
}

# postgres://ROLE:PW@H1:5432,H2:5432,H3:5432/linkfort?target_session_attrs=read-write: the
# client follows the one host that accepts writes (the Patroni primary). ROLE is the service's
# (default) or the supervisor's, whose CREATEDB the weekly restore check's scratch databases need.
cluster_database_url() {
  local role=${1:-$LF_USER} secret=${2:-LINKFORT_DB_PASSWORD} hosts='' host
  for host in "${DB_HOST_LIST[@]}"; do hosts+="${hosts:+,}$host:$PG_PORT"; done
  printf 'postgres://%s:%s@%s/linkfort?target_session_attrs=read-write\n' "$role" "$(cluster_secret "$secret")" "$hosts"
}

# The same URL without its password (for psql, which gets the password through PGPASSWORD).
without_password() { printf '%s\n' "$1" | sed -E 's|^(postgres(ql)?://[^:@/]+):[^@/]*@|\1@|'; }

# Waits until the cluster's primary accepts linkfort's login, as the app VMs connect.
wait_cluster_primary() {
  local url=$1 seconds=$2 deadline
  step "waiting for the cluster's primary (${DB_HOST_LIST[*]})"
  deadline=$(($(date +%s) + seconds))
  until PGPASSWORD=$(cluster_secret LINKFORT_DB_PASSWORD) PGCONNECT_TIMEOUT=3 \
      psql -X -q -At "$(without_password "$url")" -c 'select pg_is_in_recovery()' 2>/dev/null | grep -qx f; do
    [ "$(date +%s)" -lt "$deadline" ] || die "no primary of the cluster accepts role $LF_USER after $seconds s: on a db VM, patronictl -c /etc/patroni/config.yml list (are all db VMs installed? is $CLUSTER_ENV the db VMs' copy?)"
    sleep 1
  done
  log "the primary accepts role $LF_USER"
}
