CREATE TABLE "blocklist_entries" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"kind" text NOT NULL,
	"value" text NOT NULL,
	"reason" text,
	"blocked_count" integer DEFAULT 0 NOT NULL,
	"last_blocked_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "blocklist_entries_kind_ck" CHECK ("blocklist_entries"."kind" in ('email', 'domain', 'phone', 'facebook', 'twitter'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX "blocklist_entries_kind_value_uq" ON "blocklist_entries" USING btree ("kind","value");