CREATE TABLE "spool_offsets" (
	"spool_id" text PRIMARY KEY NOT NULL,
	"segment" bigint NOT NULL,
	"byte_offset" bigint NOT NULL,
	"updated_at" timestamp (6) DEFAULT now() NOT NULL
);
