-- Issue 18: ticket_events, sla_stream_events and inbound_payloads become partitioned by month
-- (RANGE on created_at / received_at, UTC months). messages is not partitioned: see README,
-- Capacity. Each table is converted in place: the old table is renamed <table>_legacy, keeps
-- its rows and becomes the partition FROM (MINVALUE) TO (the first of the month after now, or
-- after its newest row), so nothing is copied; a DEFAULT partition catches a row whose month
-- has no partition yet. The maintenance job (modules/maintenance/partitions.service.ts) makes
-- the months ahead and drops the expired ones. On a populated database this costs one scan
-- and one index build per table (the primary key must include the partition key), under the
-- migration's lock. Safe on an empty database (the legacy partition is then empty).

-- A month boundary in UTC, as timestamptz: the first of the month after greatest(now, newest row).
CREATE FUNCTION pg_temp.cd_legacy_upper(newest timestamptz) RETURNS timestamptz LANGUAGE sql AS $$
  SELECT (date_trunc('month', greatest(now(), coalesce(newest, now())) AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC'
$$;--> statement-breakpoint

-- ticket_events -------------------------------------------------------------------------
LOCK TABLE "ticket_events" IN ACCESS EXCLUSIVE MODE;--> statement-breakpoint
ALTER TABLE "ticket_events" RENAME TO "ticket_events_legacy";--> statement-breakpoint
ALTER TABLE "ticket_events_legacy" RENAME CONSTRAINT "ticket_events_pkey" TO "ticket_events_legacy_pkey";--> statement-breakpoint
ALTER TABLE "ticket_events_legacy" RENAME CONSTRAINT "ticket_events_ticket_id_tickets_id_fk" TO "ticket_events_legacy_ticket_id_fk";--> statement-breakpoint
ALTER INDEX "ticket_events_ticket_id_idx" RENAME TO "ticket_events_legacy_ticket_id_idx";--> statement-breakpoint
ALTER SEQUENCE "ticket_events_id_seq" RENAME TO "ticket_events_legacy_id_seq";--> statement-breakpoint
CREATE TABLE "ticket_events" (
	"id" bigint GENERATED ALWAYS AS IDENTITY (sequence name "ticket_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"ticket_id" uuid NOT NULL,
	"type" text NOT NULL,
	"actor_kind" text NOT NULL,
	"actor_id" text,
	"data" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ticket_events_pkey" PRIMARY KEY ("id", "created_at")
) PARTITION BY RANGE ("created_at");--> statement-breakpoint
-- Ids go on from where the old sequence stood (a rolled-back id is never reused).
SELECT setval('"ticket_events_id_seq"', s.last_value, s.is_called) FROM "ticket_events_legacy_id_seq" s;--> statement-breakpoint
ALTER TABLE "ticket_events_legacy" ALTER COLUMN "id" DROP IDENTITY;--> statement-breakpoint
ALTER TABLE "ticket_events_legacy" DROP CONSTRAINT "ticket_events_legacy_pkey";--> statement-breakpoint
ALTER TABLE "ticket_events_legacy" ADD CONSTRAINT "ticket_events_legacy_pkey" PRIMARY KEY ("id", "created_at");--> statement-breakpoint
DO $$ BEGIN
  EXECUTE format('ALTER TABLE "ticket_events" ATTACH PARTITION "ticket_events_legacy" FOR VALUES FROM (MINVALUE) TO (%L)',
    pg_temp.cd_legacy_upper((SELECT max("created_at") FROM "ticket_events_legacy")));
END $$;--> statement-breakpoint
CREATE TABLE "ticket_events_default" PARTITION OF "ticket_events" DEFAULT;--> statement-breakpoint
-- Matches the legacy partition's own foreign key and index, which are attached, not rebuilt.
ALTER TABLE "ticket_events" ADD CONSTRAINT "ticket_events_ticket_id_tickets_id_fk" FOREIGN KEY ("ticket_id") REFERENCES "public"."tickets"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "ticket_events_ticket_id_idx" ON "ticket_events" USING btree ("ticket_id","id");--> statement-breakpoint

-- sla_stream_events ---------------------------------------------------------------------
LOCK TABLE "sla_stream_events" IN ACCESS EXCLUSIVE MODE;--> statement-breakpoint
ALTER TABLE "sla_stream_events" RENAME TO "sla_stream_events_legacy";--> statement-breakpoint
ALTER TABLE "sla_stream_events_legacy" RENAME CONSTRAINT "sla_stream_events_pkey" TO "sla_stream_events_legacy_pkey";--> statement-breakpoint
ALTER INDEX "sla_stream_events_created_idx" RENAME TO "sla_stream_events_legacy_created_idx";--> statement-breakpoint
ALTER INDEX "sla_stream_events_tx_order_idx" RENAME TO "sla_stream_events_legacy_tx_order_idx";--> statement-breakpoint
ALTER SEQUENCE "sla_stream_events_id_seq" RENAME TO "sla_stream_events_legacy_id_seq";--> statement-breakpoint
CREATE TABLE "sla_stream_events" (
	"id" bigint GENERATED ALWAYS AS IDENTITY (sequence name "sla_stream_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"tx_id" "xid8" DEFAULT pg_current_xact_id() NOT NULL,
	"type" text NOT NULL,
	"data" jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sla_stream_events_pkey" PRIMARY KEY ("id", "created_at")
) PARTITION BY RANGE ("created_at");--> statement-breakpoint
SELECT setval('"sla_stream_events_id_seq"', s.last_value, s.is_called) FROM "sla_stream_events_legacy_id_seq" s;--> statement-breakpoint
ALTER TABLE "sla_stream_events_legacy" ALTER COLUMN "id" DROP IDENTITY;--> statement-breakpoint
ALTER TABLE "sla_stream_events_legacy" DROP CONSTRAINT "sla_stream_events_legacy_pkey";--> statement-breakpoint
ALTER TABLE "sla_stream_events_legacy" ADD CONSTRAINT "sla_stream_events_legacy_pkey" PRIMARY KEY ("id", "created_at");--> statement-breakpoint
DO $$ BEGIN
  EXECUTE format('ALTER TABLE "sla_stream_events" ATTACH PARTITION "sla_stream_events_legacy" FOR VALUES FROM (MINVALUE) TO (%L)',
    pg_temp.cd_legacy_upper((SELECT max("created_at") FROM "sla_stream_events_legacy")));
END $$;--> statement-breakpoint
CREATE TABLE "sla_stream_events_default" PARTITION OF "sla_stream_events" DEFAULT;--> statement-breakpoint
CREATE INDEX "sla_stream_events_created_idx" ON "sla_stream_events" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "sla_stream_events_tx_order_idx" ON "sla_stream_events" USING btree ("tx_id","id");--> statement-breakpoint

-- inbound_payloads ----------------------------------------------------------------------
-- The dedupe moves to inbound_payload_keys (one row per stored payload, never partitioned):
-- a unique index on the partitioned table would have to hold received_at, which a redelivery
-- does not share with its original.
CREATE TABLE "inbound_payload_keys" (
	"channel" text NOT NULL,
	"sha256" text NOT NULL,
	"received_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "inbound_payload_keys_channel_sha256_pk" PRIMARY KEY("channel","sha256")
);--> statement-breakpoint
CREATE INDEX "inbound_payload_keys_received_idx" ON "inbound_payload_keys" USING btree ("received_at");--> statement-breakpoint
LOCK TABLE "inbound_payloads" IN ACCESS EXCLUSIVE MODE;--> statement-breakpoint
INSERT INTO "inbound_payload_keys" ("channel", "sha256", "received_at") SELECT "channel", "sha256", "received_at" FROM "inbound_payloads";--> statement-breakpoint
ALTER TABLE "inbound_payloads" RENAME TO "inbound_payloads_legacy";--> statement-breakpoint
ALTER TABLE "inbound_payloads_legacy" RENAME CONSTRAINT "inbound_payloads_pkey" TO "inbound_payloads_legacy_pkey";--> statement-breakpoint
ALTER INDEX "inbound_payloads_received_idx" RENAME TO "inbound_payloads_legacy_received_idx";--> statement-breakpoint
DROP INDEX "inbound_payloads_channel_sha_uq";--> statement-breakpoint
CREATE TABLE "inbound_payloads" (
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"channel" text NOT NULL,
	"sha256" text NOT NULL,
	"content_type" text,
	"body" "bytea" NOT NULL,
	"outcome" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"received_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "inbound_payloads_pkey" PRIMARY KEY ("id", "received_at")
) PARTITION BY RANGE ("received_at");--> statement-breakpoint
ALTER TABLE "inbound_payloads_legacy" DROP CONSTRAINT "inbound_payloads_legacy_pkey";--> statement-breakpoint
ALTER TABLE "inbound_payloads_legacy" ADD CONSTRAINT "inbound_payloads_legacy_pkey" PRIMARY KEY ("id", "received_at");--> statement-breakpoint
DO $$ BEGIN
  EXECUTE format('ALTER TABLE "inbound_payloads" ATTACH PARTITION "inbound_payloads_legacy" FOR VALUES FROM (MINVALUE) TO (%L)',
    pg_temp.cd_legacy_upper((SELECT max("received_at") FROM "inbound_payloads_legacy")));
END $$;--> statement-breakpoint
CREATE TABLE "inbound_payloads_default" PARTITION OF "inbound_payloads" DEFAULT;--> statement-breakpoint
CREATE INDEX "inbound_payloads_received_idx" ON "inbound_payloads" USING btree ("received_at");--> statement-breakpoint
DROP FUNCTION pg_temp.cd_legacy_upper(timestamptz);
