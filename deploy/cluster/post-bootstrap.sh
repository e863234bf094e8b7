#!/bin/sh
# Patroni's post_bootstrap (deploy/cluster/patroni.yml): runs once, as postgres, on the db VM that
# created the cluster, before any replica exists. Creates linkfort's roles and database.
#   post-bootstrap.sh ENV_FILE CONNINFO
# ENV_FILE holds LINKFORT_DB_PASSWORD and SUPERVISOR_DB_PASSWORD; Patroni appends CONNINFO (the
# superuser's, PGPASSFILE set).
set -eu
env_file=$1
conninfo=$2
secret() { sed -n "s/^$1=//p" "$env_file" | tail -1; }
password=$(secret LINKFORT_DB_PASSWORD)
supervisor_password=$(secret SUPERVISOR_DB_PASSWORD)
[ -n "$password" ] || { echo "post-bootstrap: no LINKFORT_DB_PASSWORD in $env_file" >&2; exit 1; }
[ -n "$supervisor_password" ] || { echo "post-bootstrap: no SUPERVISOR_DB_PASSWORD in $env_file" >&2; exit 1; }
# As on a single VM: the service's role NOCREATEDB (nothing it does needs it); the supervisor's
# CREATEDB for the restore check's scratch databases, and a member of the service's role so its
# dumps and restores reach (and leave owned by) the service's tables.
psql -X -q -v ON_ERROR_STOP=1 -v password="$password" -v supervisor_password="$supervisor_password" -d "$conninfo" <<'SQL'
SELECT format('CREATE ROLE linkfort LOGIN NOCREATEDB PASSWORD %L', :'password')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'linkfort') \gexec
SELECT format('CREATE ROLE linkfort_supervisor LOGIN CREATEDB PASSWORD %L', :'supervisor_password')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'linkfort_supervisor') \gexec
SELECT 'GRANT linkfort TO linkfort_supervisor'
  WHERE NOT pg_has_role('linkfort_supervisor', 'linkfort', 'MEMBER') \gexec
SELECT 'CREATE DATABASE linkfort OWNER linkfort'
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'linkfort') \gexec
SQL
