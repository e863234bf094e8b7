ALTER TABLE "click_agents" ADD COLUMN "bot_clicks" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "click_daily" ADD COLUMN "bot_clicks" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "click_referrers" ADD COLUMN "bot_clicks" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "urls" ADD COLUMN "expires_at" timestamp (6);--> statement-breakpoint
ALTER TABLE "urls" ADD COLUMN "max_clicks" bigint;--> statement-breakpoint
ALTER TABLE "urls" ADD COLUMN "forward_query" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "urls" ADD CONSTRAINT "urls_max_clicks_positive" CHECK ("urls"."max_clicks" > 0);--> statement-breakpoint
-- The link options change what a redirect answers, so an edit of one must reach every cache as
-- an edit of original_url does (0001); the function is 0001's with those columns compared too.
CREATE OR REPLACE FUNCTION linkfort_notify_codes() RETURNS trigger LANGUAGE plpgsql AS $$
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
        OR (o.short_code, o.original_url, o.is_active, o.expires_at, o.max_clicks, o.forward_query)
          IS DISTINCT FROM (n.short_code, n.original_url, n.is_active, n.expires_at, n.max_clicks, n.forward_query));
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
