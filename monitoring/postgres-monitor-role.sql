-- The read-only role the postgres exporter logs in as (deploy/monitoring.sh runs this as the
-- postgres superuser): pg_monitor reads every pg_stat_* view and database size, and nothing
-- else. Safe to run again. psql -v password=… -v database=… -f postgres-monitor-role.sql
SET client_min_messages = warning;
SELECT format('CREATE ROLE linkfort_monitor LOGIN PASSWORD %L', :'password')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'linkfort_monitor') \gexec
SELECT 'GRANT pg_monitor TO linkfort_monitor'
  WHERE NOT pg_has_role('linkfort_monitor', 'pg_monitor', 'MEMBER') \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO linkfort_monitor', :'database') \gexec
