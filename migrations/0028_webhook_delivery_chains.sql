CREATE TABLE "webhook_delivery_chains" (
	"subscription_id" uuid NOT NULL,
	"resource_key" text NOT NULL,
	"due_at" timestamp (3) with time zone NOT NULL,
	"in_flight" boolean DEFAULT false NOT NULL,
	CONSTRAINT "webhook_delivery_chains_subscription_id_resource_key_pk" PRIMARY KEY("subscription_id","resource_key")
);
--> statement-breakpoint
ALTER TABLE "webhook_delivery_chains" ADD CONSTRAINT "webhook_delivery_chains_subscription_id_webhook_subscriptions_id_fk" FOREIGN KEY ("subscription_id") REFERENCES "public"."webhook_subscriptions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "webhook_delivery_chains_due_idx" ON "webhook_delivery_chains" USING btree ("subscription_id","due_at");--> statement-breakpoint
CREATE INDEX "webhook_delivery_chains_in_flight_idx" ON "webhook_delivery_chains" USING btree ("subscription_id","due_at") WHERE in_flight;--> statement-breakpoint
-- Deliveries already waiting when this runs: one chain each (its head's due time, or its lease's end while delivering).
INSERT INTO "webhook_delivery_chains" ("subscription_id", "resource_key", "due_at", "in_flight")
SELECT DISTINCT ON ("subscription_id", "resource_key") "subscription_id", "resource_key",
       CASE WHEN "state" = 'delivering' THEN coalesce("lease_until", now()) ELSE "next_attempt_at" END,
       "state" = 'delivering'
  FROM "webhook_deliveries"
 WHERE "state" IN ('pending', 'delivering')
 ORDER BY "subscription_id", "resource_key", "event_id";
