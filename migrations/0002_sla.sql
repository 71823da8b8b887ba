CREATE TABLE "breaches" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"ticket_id" uuid NOT NULL,
	"clock_id" uuid,
	"clock_started_at" timestamp (3) with time zone,
	"commitment_id" uuid,
	"policy_id" uuid,
	"metric" text NOT NULL,
	"channel" text NOT NULL,
	"team_id" uuid,
	"severity" integer NOT NULL,
	"due_at" timestamp (3) with time zone NOT NULL,
	"breached_at" timestamp (3) with time zone NOT NULL,
	"escalation_level" integer DEFAULT 0 NOT NULL,
	"state" text DEFAULT 'open' NOT NULL,
	"acknowledged_by" text,
	"acknowledged_at" timestamp (3) with time zone,
	"ack_note" text,
	"resolved_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "calendars" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"definition" jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "calendars_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "commitments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"ticket_id" uuid NOT NULL,
	"description" text NOT NULL,
	"due_at" timestamp (3) with time zone NOT NULL,
	"state" text DEFAULT 'open' NOT NULL,
	"created_by_agent_id" uuid,
	"reminded_at" timestamp (3) with time zone,
	"overdue_at" timestamp (3) with time zone,
	"closed_at" timestamp (3) with time zone,
	"generation" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sla_clocks" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"ticket_id" uuid NOT NULL,
	"policy_id" uuid,
	"metric" text NOT NULL,
	"state" text NOT NULL,
	"target_sec" integer NOT NULL,
	"started_at" timestamp (3) with time zone NOT NULL,
	"resumed_at" timestamp (3) with time zone,
	"used_sec" double precision DEFAULT 0 NOT NULL,
	"due_at" timestamp (3) with time zone,
	"warn_due_at" timestamp (3) with time zone,
	"paused_at" timestamp (3) with time zone,
	"warned_at" timestamp (3) with time zone,
	"breached_at" timestamp (3) with time zone,
	"stopped_at" timestamp (3) with time zone,
	"generation" integer DEFAULT 1 NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sla_policies" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"position" integer NOT NULL,
	"match" jsonb NOT NULL,
	"calendar_id" uuid,
	"targets" jsonb NOT NULL,
	"warn_at" real DEFAULT 0.75 NOT NULL,
	"escalation" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sla_policies_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "sla_stream_events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "sla_stream_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"type" text NOT NULL,
	"data" jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "tickets" ADD COLUMN "sla_policy_id" uuid;--> statement-breakpoint
ALTER TABLE "breaches" ADD CONSTRAINT "breaches_ticket_id_tickets_id_fk" FOREIGN KEY ("ticket_id") REFERENCES "public"."tickets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "breaches" ADD CONSTRAINT "breaches_policy_id_sla_policies_id_fk" FOREIGN KEY ("policy_id") REFERENCES "public"."sla_policies"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "commitments" ADD CONSTRAINT "commitments_ticket_id_tickets_id_fk" FOREIGN KEY ("ticket_id") REFERENCES "public"."tickets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "commitments" ADD CONSTRAINT "commitments_created_by_agent_id_agents_id_fk" FOREIGN KEY ("created_by_agent_id") REFERENCES "public"."agents"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sla_clocks" ADD CONSTRAINT "sla_clocks_ticket_id_tickets_id_fk" FOREIGN KEY ("ticket_id") REFERENCES "public"."tickets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sla_clocks" ADD CONSTRAINT "sla_clocks_policy_id_sla_policies_id_fk" FOREIGN KEY ("policy_id") REFERENCES "public"."sla_policies"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sla_policies" ADD CONSTRAINT "sla_policies_calendar_id_calendars_id_fk" FOREIGN KEY ("calendar_id") REFERENCES "public"."calendars"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "breaches_clock_run_uq" ON "breaches" USING btree ("clock_id","clock_started_at");--> statement-breakpoint
CREATE UNIQUE INDEX "breaches_commitment_uq" ON "breaches" USING btree ("commitment_id");--> statement-breakpoint
CREATE INDEX "breaches_ticket_id_idx" ON "breaches" USING btree ("ticket_id");--> statement-breakpoint
CREATE INDEX "breaches_policy_id_idx" ON "breaches" USING btree ("policy_id");--> statement-breakpoint
CREATE INDEX "breaches_queue_idx" ON "breaches" USING btree ("state","severity" DESC NULLS LAST,"breached_at","id");--> statement-breakpoint
CREATE INDEX "breaches_team_queue_idx" ON "breaches" USING btree ("team_id","state","severity" DESC NULLS LAST,"breached_at");--> statement-breakpoint
CREATE INDEX "commitments_ticket_id_idx" ON "commitments" USING btree ("ticket_id");--> statement-breakpoint
CREATE INDEX "commitments_created_by_idx" ON "commitments" USING btree ("created_by_agent_id");--> statement-breakpoint
CREATE INDEX "commitments_open_due_idx" ON "commitments" USING btree ("due_at") WHERE "commitments"."state" = 'open';--> statement-breakpoint
CREATE UNIQUE INDEX "sla_clocks_ticket_metric_uq" ON "sla_clocks" USING btree ("ticket_id","metric");--> statement-breakpoint
CREATE INDEX "sla_clocks_policy_id_idx" ON "sla_clocks" USING btree ("policy_id");--> statement-breakpoint
CREATE INDEX "sla_clocks_running_due_idx" ON "sla_clocks" USING btree ("due_at") WHERE "sla_clocks"."state" = 'running';--> statement-breakpoint
CREATE INDEX "sla_clocks_running_warn_idx" ON "sla_clocks" USING btree ("warn_due_at") WHERE "sla_clocks"."state" = 'running' and "sla_clocks"."warned_at" is null;--> statement-breakpoint
CREATE INDEX "sla_policies_calendar_id_idx" ON "sla_policies" USING btree ("calendar_id");--> statement-breakpoint
CREATE INDEX "sla_policies_position_idx" ON "sla_policies" USING btree ("position");--> statement-breakpoint
CREATE INDEX "sla_stream_events_created_idx" ON "sla_stream_events" USING btree ("created_at");