CREATE TABLE "api_keys" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" varchar(100) NOT NULL,
	"prefix" varchar(16) NOT NULL,
	"hash" varchar(64) NOT NULL,
	"scope" varchar(16) NOT NULL,
	"user_id" integer,
	"created_at" timestamp (6) DEFAULT now() NOT NULL,
	"last_used_at" timestamp (6),
	"revoked_at" timestamp (6),
	CONSTRAINT "api_keys_hash_unique" UNIQUE("hash")
);
--> statement-breakpoint
CREATE TABLE "bans" (
	"id" serial PRIMARY KEY NOT NULL,
	"subject" varchar(128) NOT NULL,
	"kind" varchar(8) NOT NULL,
	"level" integer NOT NULL,
	"reason" text NOT NULL,
	"until" timestamp (6),
	"created_at" timestamp (6) DEFAULT now() NOT NULL,
	"lifted_at" timestamp (6)
);
--> statement-breakpoint
CREATE TABLE "click_agents" (
	"url_id" integer NOT NULL,
	"day" date NOT NULL,
	"clicks" integer NOT NULL,
	"agent" varchar(32) NOT NULL,
	CONSTRAINT "click_agents_url_id_day_agent_pk" PRIMARY KEY("url_id","day","agent")
);
--> statement-breakpoint
CREATE TABLE "click_daily" (
	"url_id" integer NOT NULL,
	"day" date NOT NULL,
	"clicks" integer NOT NULL,
	CONSTRAINT "click_daily_url_id_day_pk" PRIMARY KEY("url_id","day")
);
--> statement-breakpoint
CREATE TABLE "click_receipts" (
	"click_id" uuid PRIMARY KEY NOT NULL,
	"seen_at" timestamp (6) DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "click_referrers" (
	"url_id" integer NOT NULL,
	"day" date NOT NULL,
	"clicks" integer NOT NULL,
	"referrer" varchar(255) NOT NULL,
	CONSTRAINT "click_referrers_url_id_day_referrer_pk" PRIMARY KEY("url_id","day","referrer")
);
--> statement-breakpoint
CREATE TABLE "events" (
	"id" serial PRIMARY KEY NOT NULL,
	"url_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"event_type" varchar(64) NOT NULL,
	"timestamp" timestamp (6) DEFAULT now() NOT NULL,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "retired_codes" (
	"code" varchar(16) PRIMARY KEY NOT NULL,
	"retired_at" timestamp (6) DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "urls" (
	"id" serial PRIMARY KEY NOT NULL,
	"user_id" integer NOT NULL,
	"short_code" varchar(16) NOT NULL,
	"original_url" text NOT NULL,
	"title" varchar(255),
	"is_active" boolean DEFAULT true NOT NULL,
	"created_at" timestamp (6) DEFAULT now() NOT NULL,
	"updated_at" timestamp (6) DEFAULT now() NOT NULL,
	CONSTRAINT "urls_short_code_unique" UNIQUE("short_code")
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" serial PRIMARY KEY NOT NULL,
	"username" varchar(255) NOT NULL,
	"email" varchar(255) NOT NULL,
	"created_at" timestamp (6) DEFAULT now() NOT NULL,
	CONSTRAINT "users_username_unique" UNIQUE("username"),
	CONSTRAINT "users_email_unique" UNIQUE("email")
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "click_agents" ADD CONSTRAINT "click_agents_url_id_urls_id_fk" FOREIGN KEY ("url_id") REFERENCES "public"."urls"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "click_daily" ADD CONSTRAINT "click_daily_url_id_urls_id_fk" FOREIGN KEY ("url_id") REFERENCES "public"."urls"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "click_referrers" ADD CONSTRAINT "click_referrers_url_id_urls_id_fk" FOREIGN KEY ("url_id") REFERENCES "public"."urls"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_url_id_urls_id_fk" FOREIGN KEY ("url_id") REFERENCES "public"."urls"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "urls" ADD CONSTRAINT "urls_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "api_keys_user_id_idx" ON "api_keys" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "bans_kind_subject_idx" ON "bans" USING btree ("kind","subject");--> statement-breakpoint
CREATE INDEX "bans_created_at_idx" ON "bans" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "click_receipts_seen_at_idx" ON "click_receipts" USING btree ("seen_at");--> statement-breakpoint
CREATE INDEX "events_url_id_id_idx" ON "events" USING btree ("url_id","id");--> statement-breakpoint
CREATE INDEX "events_user_id_id_idx" ON "events" USING btree ("user_id","id");--> statement-breakpoint
CREATE INDEX "events_event_type_id_idx" ON "events" USING btree ("event_type","id");--> statement-breakpoint
CREATE INDEX "events_timestamp_idx" ON "events" USING btree ("timestamp");--> statement-breakpoint
CREATE INDEX "urls_user_id_id_idx" ON "urls" USING btree ("user_id","id");--> statement-breakpoint
CREATE INDEX "urls_is_active_id_idx" ON "urls" USING btree ("is_active","id");