DROP INDEX "customer_identities_kind_address_uq";--> statement-breakpoint
DROP INDEX "customer_identities_customer_id_idx";--> statement-breakpoint
ALTER TABLE "customer_identities" ADD COLUMN "status" text DEFAULT 'verified' NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "customer_identities_verified_kind_address_uq" ON "customer_identities" USING btree ("kind","address") WHERE "customer_identities"."status" = 'verified';--> statement-breakpoint
CREATE UNIQUE INDEX "customer_identities_customer_kind_address_uq" ON "customer_identities" USING btree ("customer_id","kind","address");--> statement-breakpoint
ALTER TABLE "customer_identities" ADD CONSTRAINT "customer_identities_status_ck" CHECK ("customer_identities"."status" in ('verified', 'suggested'));