CREATE TABLE "agent_presence_events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "agent_presence_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"agent_id" uuid NOT NULL,
	"status" text NOT NULL,
	"reason" text NOT NULL,
	"at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "routing_queues" (
	"key" text PRIMARY KEY NOT NULL,
	"routing" jsonb,
	"capacity" jsonb,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "presence" text DEFAULT 'offline' NOT NULL;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "presence_changed_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "last_activity_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "capacity" jsonb;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "team_ids" uuid[] DEFAULT '{}'::uuid[] NOT NULL;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "last_routed_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "teams" ADD COLUMN "capacity" jsonb;--> statement-breakpoint
ALTER TABLE "teams" ADD COLUMN "routing" jsonb;--> statement-breakpoint
ALTER TABLE "agent_presence_events" ADD CONSTRAINT "agent_presence_events_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "agent_presence_events_agent_at_idx" ON "agent_presence_events" USING btree ("agent_id","at");--> statement-breakpoint
CREATE INDEX "tickets_routing_waiting_idx" ON "tickets" USING btree ("team_id","created_at") WHERE "tickets"."assignee_id" is null and "tickets"."status" in ('new', 'open');--> statement-breakpoint
CREATE INDEX "tickets_routing_load_idx" ON "tickets" USING btree ("assignee_id","channel") WHERE "tickets"."assignee_id" is not null and "tickets"."status" in ('new', 'open');