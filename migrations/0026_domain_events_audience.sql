ALTER TABLE "domain_events" ADD COLUMN "team_id" uuid;--> statement-breakpoint
ALTER TABLE "domain_events" ADD COLUMN "assignee_id" uuid;