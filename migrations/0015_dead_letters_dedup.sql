-- Existing rows: hash their bodies, then fold repeated bodies into their earliest row (counting them) before the unique index.
ALTER TABLE "dead_letters" ADD COLUMN "sha256" text;--> statement-breakpoint
ALTER TABLE "dead_letters" ADD COLUMN "deliveries" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "dead_letters" ADD COLUMN "last_received_at" timestamp (3) with time zone;--> statement-breakpoint
UPDATE "dead_letters" SET "sha256" = encode(sha256("body"), 'hex'), "last_received_at" = "received_at";--> statement-breakpoint
WITH ranked AS (
  SELECT "id", "channel", "sha256", "received_at",
         row_number() OVER (PARTITION BY "channel", "sha256" ORDER BY "received_at", "id") AS n,
         count(*) OVER (PARTITION BY "channel", "sha256") AS total,
         max("received_at") OVER (PARTITION BY "channel", "sha256") AS latest
  FROM "dead_letters"
), kept AS (
  UPDATE "dead_letters" d SET "deliveries" = r.total, "last_received_at" = r.latest
  FROM ranked r WHERE d."id" = r."id" AND r.n = 1 AND r.total > 1
  RETURNING d."id"
)
DELETE FROM "dead_letters" d USING ranked r WHERE d."id" = r."id" AND r.n > 1;--> statement-breakpoint
ALTER TABLE "dead_letters" ALTER COLUMN "sha256" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "dead_letters" ALTER COLUMN "last_received_at" SET NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "dead_letters_channel_sha_uq" ON "dead_letters" USING btree ("channel","sha256");
