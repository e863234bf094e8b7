# shellcheck shell=bash
# install.sh --role db: this VM's member of the etcd cluster and its PostgreSQL under Patroni,
# from the templates in deploy/cluster/. Sourced after common.sh, env-files.sh and cluster.sh.

readonly DB_APT_PACKAGES=(postgresql patroni etcd-server etcd-client curl)
readonly ETCD_ENV=/etc/default/etcd
readonly ETCD_DATA=/var/lib/etcd/linkfort
readonly ETCD_DROPIN=$LF_UNIT_DIR/etcd.service.d/linkfort.conf
readonly PATRONI_DIR=/etc/patroni
readonly PATRONI_CONFIG=$PATRONI_DIR/config.yml
readonly PATRONI_BOOTSTRAP_ENV=$PATRONI_DIR/linkfort-bootstrap.env
readonly PATRONI_POST_BOOTSTRAP=$PATRONI_DIR/linkfort-post-bootstrap.sh
# Debian's postgresql package makes a "main" cluster on 5432 unless told not to; Patroni owns 5432.
readonly NO_MAIN_CLUSTER=/etc/postgresql-common/createcluster.d/linkfort.conf

# This VM's entry in --db-hosts: the one that is --name or this host's name, else the one that is
# (or resolves to) an address of this machine. Every VM derives etcd's member names from the list.
find_self_host() {
  local host address locals
  for host in "${DB_HOST_LIST[@]}"; do
    if [ "$host" = "$NODE_NAME" ] || [ "$host" = "$(hostname)" ] || [ "$host" = "$(hostname -s)" ]; then SELF_HOST=$host; return 0; fi
  done
  locals=" $(ip -o addr show 2>/dev/null | awk '{ sub(/\/.*/, "", $4); printf "%s ", $4 }')"
  for host in "${DB_HOST_LIST[@]}"; do
    for address in $host $(getent ahostsv4 "$host" 2>/dev/null | awk '{ print $1 }' | sort -u); do
      if [[ $locals == *" $address "* ]]; then SELF_HOST=$host; return 0; fi
    done
  done
  die "none of --db-hosts (${DB_HOST_LIST[*]}) is this VM ($(hostname); addresses:$locals): list this VM, or pass --name with its entry"
}

# Writes TEMPLATE with each @KEY@ replaced (KEY VALUE pairs) to stdout.
render_template() {
  local content key
  content=$(cat "$1") || die "missing template $1"
  shift
  while [ $# -gt 0 ]; do key=$1; content=${content//@$key@/$2}; shift 2; done
  [[ $content != *@[A-Z_]*@* ]] || die "template $1 has a placeholder left: $(grep -o '@[A-Z_]*@' <<<"$content" | head -1)"
  printf '%s\n' "$content"
}

# install_if_changed for content on stdin, then OWNER:GROUP on DEST. Exit 0 = changed.
install_content() {
  local dest=$1 mode=$2 owner=$3 tmp changed=1
  tmp=$(mktemp)
  cat >"$tmp"
  if install_if_changed "$tmp" "$dest" "$mode"; then changed=0; fi
  rm -f "$tmp"
  [ "$(stat -c %U:%G "$dest")" = "$owner" ] || chown "$owner" "$dest"
  return $changed
}

keep_main_cluster_away() {
  step "no Debian \"main\" PostgreSQL cluster on this db VM"
  printf '%s\n' "# linkfort (deploy/install.sh --role db): Patroni runs this VM's PostgreSQL." "create_main_cluster = false" \
    | install_content "$NO_MAIN_CLUSTER" 0644 root:root || true
  local conf
  # One made before (postgresql installed earlier): stopped and never started again, data kept.
  for conf in /etc/postgresql/*/main/start.conf; do
    [ -f "$conf" ] || continue
    if [ "$(grep -v '^#' "$conf" | tr -d '[:space:]')" != disabled ]; then
      local version
      version=$(basename "$(dirname "$(dirname "$conf")")")
      pg_ctlcluster "$version" main stop 2>/dev/null || true
      echo disabled >"$conf"
      log "stopped PostgreSQL $version/main and set it to never start ($conf); its data stays in /var/lib/postgresql/$version/main"
    fi
  done
}

install_db_packages() { install_missing_packages "${DB_APT_PACKAGES[@]}"; }

# The newest PostgreSQL the packages installed: Patroni runs its binaries.
postgres_bin_dir() {
  local dir
  dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -1)
  [ -x "$dir/postgres" ] || die "no PostgreSQL server binaries under /usr/lib/postgresql"
  printf '%s\n' "$dir"
}

configure_etcd() {
  step "etcd member $SELF_HOST of ${DB_HOST_LIST[*]}"
  local initial='' host content changed=''
  for host in "${DB_HOST_LIST[@]}"; do initial+="${initial:+,}$host=http://$host:$ETCD_PEER_PORT"; done
  content=$(render_template "$HERE/cluster/etcd.env" SELF_HOST "$SELF_HOST" INITIAL_CLUSTER "$initial" \
    ETCD_PEER_PORT "$ETCD_PEER_PORT" ETCD_CLIENT_PORT "$ETCD_CLIENT_PORT")
  # A formed cluster ignores a new member list: changing it here would only hide the difference.
  if [ -d "$ETCD_DATA/member" ] && [ "$(env_value "$ETCD_ENV" ETCD_INITIAL_CLUSTER)" != "$initial" ]; then
    die "etcd on this VM already belongs to the cluster $(env_value "$ETCD_ENV" ETCD_INITIAL_CLUSTER); --db-hosts gives $initial. Adding or replacing db VMs is a member change: docs/RUNBOOK.md, \"Cluster install\""
  fi
  install -d -m 0700 -o etcd -g etcd "$ETCD_DATA"
  if printf '%s\n' "$content" | install_content "$ETCD_ENV" 0644 root:root; then changed=1; fi
  if install_if_changed "$HERE/cluster/etcd-dropin.conf" "$ETCD_DROPIN" 0644; then systemctl daemon-reload; changed=1; fi
  systemctl enable --quiet etcd
  # --no-block: a member of a new cluster is "started" only once a majority is up.
  if [ -n "$changed" ]; then systemctl restart --no-block etcd; log "restarting etcd with linkfort's configuration"
  else systemctl start --no-block etcd; fi
}

configure_patroni() {
  step "Patroni node $NODE_NAME ($SELF_HOST)"
  local hosts='' host bin_dir changed=''
  for host in "${DB_HOST_LIST[@]}"; do hosts+="${hosts:+$'\n'}    - $host:$ETCD_CLIENT_PORT"; done
  bin_dir=$(postgres_bin_dir)
  install -d -m 0750 -o postgres -g postgres "$PATRONI_DIR"
  printf 'LINKFORT_DB_PASSWORD=%s\nSUPERVISOR_DB_PASSWORD=%s\n' "$(cluster_secret LINKFORT_DB_PASSWORD)" "$(cluster_secret SUPERVISOR_DB_PASSWORD)" | install_content "$PATRONI_BOOTSTRAP_ENV" 0600 postgres:postgres || true
  install_if_changed "$HERE/cluster/post-bootstrap.sh" "$PATRONI_POST_BOOTSTRAP" 0755 || true
  if render_template "$HERE/cluster/patroni.yml" NODE_NAME "$NODE_NAME" SELF_HOST "$SELF_HOST" ETCD_HOSTS "$hosts" \
      PATRONI_PORT "$PATRONI_PORT" PG_PORT "$PG_PORT" DATA_DIR "$(dirname "$bin_dir" | sed 's|^/usr/lib/|/var/lib/|')/linkfort" BIN_DIR "$bin_dir" \
      POST_BOOTSTRAP "$PATRONI_POST_BOOTSTRAP" BOOTSTRAP_ENV "$PATRONI_BOOTSTRAP_ENV" \
      SUPERUSER_PASSWORD "$(cluster_secret SUPERUSER_PASSWORD)" REPLICATION_PASSWORD "$(cluster_secret REPLICATION_PASSWORD)" \
      REWIND_PASSWORD "$(cluster_secret REWIND_PASSWORD)" | install_content "$PATRONI_CONFIG" 0600 postgres:postgres; then
    changed=1
  fi
  systemctl enable --quiet patroni
  # A reload (SIGHUP) applies a changed local configuration without stopping PostgreSQL.
  if [ -n "$changed" ] && systemctl is-active --quiet patroni; then systemctl reload patroni; log "reloaded patroni"
  else systemctl start patroni; fi
}

# This node's state from its own REST API ("running", "starting", …), or "".
patroni_state() {
  local body
  body=$(curl -sS --max-time 2 "http://127.0.0.1:$PATRONI_PORT/patroni" 2>/dev/null) || true
  [[ $body =~ \"state\":\ *\"([a-z ]+)\" ]] && printf '%s\n' "${BASH_REMATCH[1]}"
  return 0
}

# Whether this VM's etcd answers as a member of a cluster with a majority up.
etcd_healthy() { etcdctl --endpoints="http://127.0.0.1:$ETCD_CLIENT_PORT" --command-timeout=2s endpoint health >/dev/null 2>&1; }

# Waits for this node to run PostgreSQL (as primary or replica). While etcd has no majority (the
# first db VM, before the others are installed) Patroni cannot start it: that is reported after a
# short wait, not an error.
wait_db_node() {
  local seconds=$1 deadline etcd_down_since='' role
  step "waiting for this node's PostgreSQL under Patroni"
  deadline=$(($(date +%s) + seconds))
  until [ "$(patroni_state)" = running ]; do
    if etcd_healthy; then etcd_down_since=''; else etcd_down_since=${etcd_down_since:-$(date +%s)}; fi
    if [ -n "$etcd_down_since" ] && [ ${#DB_HOST_LIST[@]} -gt 1 ] && [ $(($(date +%s) - etcd_down_since)) -ge "${ETCD_QUORUM_WAIT_SECONDS:-15}" ]; then
      DB_PENDING="etcd has no majority yet: install the other db VMs (${DB_HOST_LIST[*]}); Patroni starts PostgreSQL once etcd is up"
      warn "$DB_PENDING"
      return 0
    fi
    [ "$(date +%s)" -lt "$deadline" ] || die "Patroni does not run PostgreSQL after $seconds s (state: $(patroni_state); etcd $(etcd_healthy && echo healthy || echo 'has no majority')): journalctl -u patroni -u etcd -n 50; patronictl -c $PATRONI_CONFIG list"
    sleep 1
  done
  role=$(curl -sS --max-time 2 "http://127.0.0.1:$PATRONI_PORT/patroni" | sed -nE 's/.*"role": *"([a-z_]+)".*/\1/p')
  log "PostgreSQL runs here as $role"
  [ "$role" = master ] || [ "$role" = primary ] || return 0
  wait_for "role $LF_USER and database linkfort (Patroni's post_bootstrap)" 60 linkfort_database_made
  log "role $LF_USER and database linkfort exist"
}

# shellcheck disable=SC2317 # called through wait_for
linkfort_database_made() {
  [ "$(runuser -u postgres -- psql -X -At -d linkfort -c "select count(*) from pg_roles where rolname = '$LF_USER'" 2>/dev/null)" = 1 ]
}

install_db_node() {
  keep_main_cluster_away
  install_db_packages
  find_self_host
  configure_etcd
  configure_patroni
  wait_db_node "${DB_WAIT_SECONDS:-180}"
}

db_summary() {
  echo
  if [ -n "$DB_PENDING" ]; then echo "db node $NODE_NAME ($SELF_HOST) is installed; $DB_PENDING"
  else echo "db node $NODE_NAME ($SELF_HOST) is running:"; patronictl -c "$PATRONI_CONFIG" list 2>&1 | sed 's/^/  /' || true; fi
  if [ -n "$CLUSTER_ENV_CREATED" ]; then
    echo "NEW cluster secrets: $CLUSTER_ENV. Copy it (mode 0600) to every other db, app and edge VM before installing them."
  fi
  echo "check: patronictl -c $PATRONI_CONFIG list | logs: journalctl -u patroni -u etcd -f"
  echo "install took $(($(date +%s) - LF_STARTED)) s"
}
