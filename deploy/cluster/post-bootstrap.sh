#!/bin/sh
# Patroni's post_bootstrap (deploy/cluster/patroni.yml): runs once, as postgres, on the db VM that
# created the cluster, before any replica exists. Creates linkfort's role and database.
#   post-bootstrap.sh ENV_FILE CONNINFO
# ENV_FILE holds LINKFORT_DB_PASSWORD; Patroni appends CONNINFO (the superuser's, PGPASSFILE set).
set -eu
env_file=$1
conninfo=$2
password=$(sed -n 's/^LINKFORT_DB_PASSWORD=//p' "$env_file" | tail -1)
[ -n "$password" ] || { echo "post-bootstrap: no LINKFORT_DB_PASSWORD in $env_file" >&2; exit 1; }
# NOCREATEDB, as on a single VM: nothing the service does needs it.
psql -X -q -v ON_ERROR_STOP=1 -v password="$password" -d "$conninfo" <<'SQL'
SELECT format('CREATE ROLE linkfort LOGIN NOCREATEDB PASSWORD %L', :'password')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'linkfort') \gexec
SELECT 'CREATE DATABASE linkfort OWNER linkfort'
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'linkfort') \gexec
SQL
