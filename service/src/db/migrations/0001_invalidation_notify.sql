-- Every statement that changes what a short code resolves to sends NOTIFY linkfort_invalidate
-- in its own transaction, so PostgreSQL delivers it on commit to every instance that LISTENs
-- (cache/listener.ts), and no write path (API, CSV import, a cascade from users, an operator's
-- psql) can forget it. Statement-level with transition tables: one trigger run per statement,
-- however many rows. The payload is codes separated by spaces, in chunks under NOTIFY's
-- 8000-byte limit, after a '+' when the codes are new (an INSERT: nothing in Redis can be stale
-- for them, since Redis never holds a "missing" answer); '*' means "drop everything" (a huge
-- statement, or a code the separator cannot carry). Only adds triggers, so a previous release
-- running alongside is unaffected.
CREATE FUNCTION linkfort_notify_codes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  codes text[];
  chunk text := '';
  code text;
  mark text := CASE WHEN TG_OP = 'INSERT' THEN '+' ELSE '' END;
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(DISTINCT n.short_code) INTO codes FROM new_rows n;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(DISTINCT o.short_code) INTO codes FROM old_rows o;
  ELSE
    -- Only what a redirect reads; a title edit leaves every cache as it is.
    SELECT array_agg(DISTINCT c) INTO codes
    FROM old_rows o FULL JOIN new_rows n ON n.id = o.id
    CROSS JOIN LATERAL (VALUES (o.short_code), (n.short_code)) AS v(c)
    WHERE c IS NOT NULL
      AND (o.id IS NULL OR n.id IS NULL
        OR (o.short_code, o.original_url, o.is_active) IS DISTINCT FROM (n.short_code, n.original_url, n.is_active));
  END IF;
  IF codes IS NULL THEN
    RETURN NULL;
  END IF;
  -- Past this many codes one flush is cheaper for every instance than thousands of evictions.
  IF cardinality(codes) > 5000 OR EXISTS (SELECT 1 FROM unnest(codes) AS u(c) WHERE u.c !~ '^[A-Za-z0-9_-]+$') THEN
    PERFORM pg_notify('linkfort_invalidate', '*');
    RETURN NULL;
  END IF;
  FOREACH code IN ARRAY codes LOOP
    IF octet_length(chunk) + octet_length(code) + 1 > 7900 THEN
      PERFORM pg_notify('linkfort_invalidate', mark || chunk);
      chunk := '';
    END IF;
    chunk := CASE WHEN chunk = '' THEN code ELSE chunk || ' ' || code END;
  END LOOP;
  PERFORM pg_notify('linkfort_invalidate', mark || chunk);
  RETURN NULL;
END
$$;
--> statement-breakpoint
-- A trigger with transition tables may name only one event, hence three.
CREATE TRIGGER urls_notify_insert AFTER INSERT ON urls REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION linkfort_notify_codes();
--> statement-breakpoint
CREATE TRIGGER urls_notify_update AFTER UPDATE ON urls REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION linkfort_notify_codes();
--> statement-breakpoint
CREATE TRIGGER urls_notify_delete AFTER DELETE ON urls REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION linkfort_notify_codes();
