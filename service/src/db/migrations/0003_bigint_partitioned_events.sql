-- 64-bit ids for the tables that grow with traffic, and events partitioned by month of
-- "timestamp". Hand-written: drizzle-kit cannot express partitioning. Everything here holds its
-- locks for milliseconds, also on a database with millions of events: a populated events table is
-- not converted here but by the event partition job (db/event-partitions.ts), in batches, while
-- the service runs. See docs/RUNBOOK.md, "Events: 64-bit ids and monthly partitions".
--
-- Every instance starting this release runs this; one that cannot get a lock within 2 s (a long
-- transaction on events) fails, rolls back and retries with backoff (serve.ts), instead of
-- queueing every request on events behind its wait. SET LOCAL: until this transaction ends.
SET LOCAL lock_timeout = '2s';
--> statement-breakpoint
-- The new events, named events_v2 until the conversion swaps it in. Same columns in the same
-- order, so rows copy with SELECT *. The primary key must hold the partition key.
CREATE TABLE "events_v2" (
	"id" bigint DEFAULT nextval('events_id_seq') NOT NULL,
	"url_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"event_type" varchar(64) NOT NULL,
	"timestamp" timestamp (6) DEFAULT now() NOT NULL,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL,
	CONSTRAINT "events_id_timestamp_pk" PRIMARY KEY ("id", "timestamp")
) PARTITION BY RANGE ("timestamp");
--> statement-breakpoint
CREATE INDEX "events_v2_url_id_id_idx" ON "events_v2" USING btree ("url_id", "id");
--> statement-breakpoint
CREATE INDEX "events_v2_user_id_id_idx" ON "events_v2" USING btree ("user_id", "id");
--> statement-breakpoint
CREATE INDEX "events_v2_event_type_id_idx" ON "events_v2" USING btree ("event_type", "id");
--> statement-breakpoint
CREATE INDEX "events_v2_timestamp_idx" ON "events_v2" USING btree ("timestamp");
--> statement-breakpoint
-- Rows outside every monthly partition (an import of old events, a clock far off) land here
-- instead of failing their insert. Retention never drops it.
CREATE TABLE "events_default" PARTITION OF "events_v2" DEFAULT;
--> statement-breakpoint
-- Adds the partition of one month (UTC) unless it exists. Built beside the table and ATTACHed,
-- which locks the parent only in SHARE UPDATE EXCLUSIVE mode (reads and writes go on), where
-- CREATE TABLE … PARTITION OF would lock it exclusively. Rows of that month that had landed in
-- the default partition move in the same transaction, or the attach would fail on them.
CREATE FUNCTION linkfort_add_event_partition(parent regclass, of_month date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  part text := 'events_p' || to_char(of_month, 'YYYYMM');
  low timestamp := date_trunc('month', of_month);
  high timestamp := date_trunc('month', of_month) + interval '1 month';
BEGIN
  IF to_regclass(part) IS NOT NULL THEN
    RETURN false;
  END IF;
  EXECUTE format('CREATE TABLE %I (LIKE %s INCLUDING DEFAULTS)', part, parent);
  EXECUTE format('WITH moved AS (DELETE FROM events_default WHERE "timestamp" >= %L AND "timestamp" < %L RETURNING *) INSERT INTO %I SELECT * FROM moved', low, high, part);
  EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', parent, part, low, high);
  RETURN true;
END
$$;
--> statement-breakpoint
-- Partitions from `from_month` up to `months_ahead` months after the current one (UTC); returns how
-- many it added. The parent is events_v2 while a conversion runs, events after it.
CREATE FUNCTION linkfort_add_event_partitions(from_month date, months_ahead integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  parent regclass := coalesce(to_regclass('events_v2'), 'events'::regclass);
  this_month date := date_trunc('month', from_month);
  until_month date := date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => months_ahead);
  added integer := 0;
BEGIN
  WHILE this_month <= until_month LOOP
    IF linkfort_add_event_partition(parent, this_month) THEN
      added := added + 1;
    END IF;
    this_month := this_month + interval '1 month';
  END LOOP;
  RETURN added;
END
$$;
--> statement-breakpoint
-- Puts events_v2 in place of events. Locks both exclusively, for as long as a few renames take.
CREATE FUNCTION linkfort_swap_events() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  LOCK TABLE events, events_v2 IN ACCESS EXCLUSIVE MODE;
  DROP TRIGGER IF EXISTS events_mirror_insert ON events;
  DROP TRIGGER IF EXISTS events_mirror_update ON events;
  DROP TRIGGER IF EXISTS events_mirror_delete ON events;
  ALTER TABLE events ALTER COLUMN id DROP DEFAULT;
  ALTER TABLE events RENAME TO events_old;
  ALTER INDEX events_pkey RENAME TO events_old_pkey;
  ALTER INDEX events_url_id_id_idx RENAME TO events_old_url_id_id_idx;
  ALTER INDEX events_user_id_id_idx RENAME TO events_old_user_id_id_idx;
  ALTER INDEX events_event_type_id_idx RENAME TO events_old_event_type_id_idx;
  ALTER INDEX events_timestamp_idx RENAME TO events_old_timestamp_idx;
  ALTER TABLE events_v2 RENAME TO events;
  ALTER INDEX events_v2_url_id_id_idx RENAME TO events_url_id_id_idx;
  ALTER INDEX events_v2_user_id_id_idx RENAME TO events_user_id_id_idx;
  ALTER INDEX events_v2_event_type_id_idx RENAME TO events_event_type_id_idx;
  ALTER INDEX events_v2_timestamp_idx RENAME TO events_timestamp_idx;
  ALTER SEQUENCE events_id_seq OWNED BY events.id;
  DROP TABLE IF EXISTS linkfort_events_conversion;
  DROP FUNCTION IF EXISTS linkfort_mirror_events();
END
$$;
--> statement-breakpoint
-- While a populated events is copied, every write to it is repeated on events_v2 in the same
-- transaction; the copy (db/event-conversion.ts) fills in the rows from before. ON CONFLICT: a
-- row the copy already wrote.
CREATE FUNCTION linkfort_mirror_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    DELETE FROM events_v2 v USING old_rows o WHERE v.id = o.id AND v."timestamp" = o."timestamp";
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO events_v2 SELECT * FROM new_rows ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
-- The statements from here on lock tables the service uses (urls and users for the foreign keys,
-- bans, the events sequence, events for the triggers) until this transaction commits: they come
-- last, so they hold those locks for milliseconds. The current month and two ahead exist first.
SELECT linkfort_add_event_partitions((now() AT TIME ZONE 'UTC')::date, 2);
--> statement-breakpoint
ALTER TABLE "events_v2" ADD CONSTRAINT "events_url_id_urls_id_fk" FOREIGN KEY ("url_id") REFERENCES "public"."urls"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
ALTER TABLE "events_v2" ADD CONSTRAINT "events_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
-- bans grows with abuse, one row per ban: small enough that rewriting it under its lock is a blink.
ALTER SEQUENCE "bans_id_seq" AS bigint;
--> statement-breakpoint
ALTER TABLE "bans" ALTER COLUMN "id" SET DATA TYPE bigint;
--> statement-breakpoint
-- An insert locks events before it calls nextval(); taking events first here keeps that order, or
-- an insert holding events and waiting for the sequence deadlocks with this (seen under load).
LOCK TABLE "events" IN SHARE ROW EXCLUSIVE MODE;
--> statement-breakpoint
-- No rewrite, but nextval() waits for it until commit. From here on an int4 column of the old
-- table is the only 32-bit limit left, and it goes when the conversion swaps the tables.
ALTER SEQUENCE "events_id_seq" AS bigint;
--> statement-breakpoint
-- An empty events (a new install) is swapped at once, a populated one gets the mirror triggers
-- and the high-water mark the copy must reach.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM events) THEN
    PERFORM linkfort_swap_events();
    DROP TABLE events_old;
    RETURN;
  END IF;
  CREATE TRIGGER events_mirror_insert AFTER INSERT ON events REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION linkfort_mirror_events();
  CREATE TRIGGER events_mirror_update AFTER UPDATE ON events REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION linkfort_mirror_events();
  CREATE TRIGGER events_mirror_delete AFTER DELETE ON events REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION linkfort_mirror_events();
  -- After the triggers: CREATE TRIGGER waited for every writer in flight, so each row past this
  -- mark is mirrored, and each row up to it is committed and visible to the copy.
  CREATE TABLE linkfort_events_conversion (
    high_id bigint NOT NULL,
    copied_up_to bigint NOT NULL,
    started_at timestamp (6) NOT NULL DEFAULT now()
  );
  INSERT INTO linkfort_events_conversion (high_id, copied_up_to)
    SELECT max(id), coalesce(min(id), 1) - 1 FROM events;
END
$$;
