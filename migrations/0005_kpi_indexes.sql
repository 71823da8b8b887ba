CREATE TABLE "alarms" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"target_id" uuid NOT NULL,
	"state" text NOT NULL,
	"value" double precision,
	"raised_at" timestamp (3) with time zone NOT NULL,
	"cleared_at" timestamp (3) with time zone,
	"last_value" double precision,
	"last_evaluated_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "kpi_targets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"kpi" text NOT NULL,
	"scope_kind" text NOT NULL,
	"scope_value" text DEFAULT '' NOT NULL,
	"threshold" double precision NOT NULL,
	"direction" text NOT NULL,
	"window_hours" integer NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "kpi_targets_kpi_scope_uq" UNIQUE("kpi","scope_kind","scope_value")
);
--> statement-breakpoint
ALTER TABLE "alarms" ADD CONSTRAINT "alarms_target_id_kpi_targets_id_fk" FOREIGN KEY ("target_id") REFERENCES "public"."kpi_targets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "alarms_one_raised_per_target_uq" ON "alarms" USING btree ("target_id") WHERE "alarms"."state" = 'raised';--> statement-breakpoint
CREATE INDEX "alarms_target_id_idx" ON "alarms" USING btree ("target_id");--> statement-breakpoint
CREATE INDEX "alarms_raised_idx" ON "alarms" USING btree ("raised_at","id");--> statement-breakpoint
CREATE INDEX "breaches_breached_at_idx" ON "breaches" USING btree ("breached_at");--> statement-breakpoint
CREATE INDEX "commitments_due_idx" ON "commitments" USING btree ("due_at");--> statement-breakpoint
CREATE INDEX "sla_clocks_stopped_idx" ON "sla_clocks" USING btree ("stopped_at") WHERE "sla_clocks"."stopped_at" is not null;--> statement-breakpoint
CREATE INDEX "tickets_first_response_at_idx" ON "tickets" USING btree ("first_response_at") WHERE "tickets"."first_response_at" is not null;--> statement-breakpoint
CREATE INDEX "tickets_solved_at_idx" ON "tickets" USING btree ("solved_at") WHERE "tickets"."solved_at" is not null;