CREATE TABLE "click_caps" (
	"url_id" integer PRIMARY KEY NOT NULL,
	"claimed" bigint DEFAULT 0 NOT NULL,
	"granted" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "click_claims" (
	"click_id" uuid PRIMARY KEY NOT NULL,
	"url_id" integer NOT NULL,
	"spool_id" text NOT NULL,
	"incarnation" uuid NOT NULL,
	"pid" integer NOT NULL,
	"claimed_at" timestamp (6) DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "click_caps" ADD CONSTRAINT "click_caps_url_id_urls_id_fk" FOREIGN KEY ("url_id") REFERENCES "public"."urls"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "click_claims" ADD CONSTRAINT "click_claims_url_id_urls_id_fk" FOREIGN KEY ("url_id") REFERENCES "public"."urls"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "click_claims_spool_idx" ON "click_claims" USING btree ("spool_id","incarnation");--> statement-breakpoint
CREATE INDEX "click_claims_url_id_idx" ON "click_claims" USING btree ("url_id");