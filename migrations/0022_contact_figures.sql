CREATE TABLE "reasons" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"parent_id" uuid,
	"code" text NOT NULL,
	"name" text NOT NULL,
	"translations" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "root_causes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"code" text NOT NULL,
	"name" text NOT NULL,
	"translations" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "survey_settings" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"scope_kind" text NOT NULL,
	"scope_value" text NOT NULL,
	"on_solve" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "survey_settings_scope_uq" UNIQUE("scope_kind","scope_value")
);
--> statement-breakpoint
CREATE TABLE "phone_queue_calls" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"ticket_id" uuid NOT NULL,
	"call_id" text NOT NULL,
	"channel" text NOT NULL,
	"outcome" text NOT NULL,
	"wait_sec" integer NOT NULL,
	"offered_at" timestamp (3) with time zone NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "work_intervals" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"ticket_id" uuid NOT NULL,
	"agent_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"source" text NOT NULL,
	"started_at" timestamp (3) with time zone NOT NULL,
	"ended_at" timestamp (3) with time zone NOT NULL,
	"reported_ended_at" timestamp (3) with time zone NOT NULL,
	"message_id" uuid,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "work_intervals_order_ck" CHECK ("work_intervals"."ended_at" >= "work_intervals"."started_at")
);
--> statement-breakpoint
ALTER TABLE "csat_surveys" ADD COLUMN "kind" text DEFAULT 'csat' NOT NULL;--> statement-breakpoint
ALTER TABLE "teams" ADD COLUMN "require_reason_on_solve" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "tickets" ADD COLUMN "reason_id" uuid;--> statement-breakpoint
ALTER TABLE "tickets" ADD COLUMN "root_cause_id" uuid;--> statement-breakpoint
ALTER TABLE "tickets" ADD COLUMN "outcome" text;--> statement-breakpoint
ALTER TABLE "tickets" ADD COLUMN "redress_kind" text;--> statement-breakpoint
ALTER TABLE "tickets" ADD COLUMN "redress_amount" numeric(18, 4);--> statement-breakpoint
ALTER TABLE "tickets" ADD COLUMN "redress_currency" text;--> statement-breakpoint
ALTER TABLE "tickets" ADD COLUMN "handling_sec" real DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "tickets" ADD COLUMN "after_work_sec" real DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "reasons" ADD CONSTRAINT "reasons_parent_id_reasons_id_fk" FOREIGN KEY ("parent_id") REFERENCES "public"."reasons"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "phone_queue_calls" ADD CONSTRAINT "phone_queue_calls_ticket_id_tickets_id_fk" FOREIGN KEY ("ticket_id") REFERENCES "public"."tickets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "work_intervals" ADD CONSTRAINT "work_intervals_ticket_id_tickets_id_fk" FOREIGN KEY ("ticket_id") REFERENCES "public"."tickets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "work_intervals" ADD CONSTRAINT "work_intervals_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "reasons_code_uq" ON "reasons" USING btree (lower("code"));--> statement-breakpoint
CREATE INDEX "reasons_parent_idx" ON "reasons" USING btree ("parent_id");--> statement-breakpoint
CREATE UNIQUE INDEX "root_causes_code_uq" ON "root_causes" USING btree (lower("code"));--> statement-breakpoint
CREATE UNIQUE INDEX "phone_queue_calls_call_uq" ON "phone_queue_calls" USING btree ("call_id");--> statement-breakpoint
CREATE INDEX "phone_queue_calls_offered_idx" ON "phone_queue_calls" USING btree ("offered_at");--> statement-breakpoint
CREATE INDEX "phone_queue_calls_ticket_idx" ON "phone_queue_calls" USING btree ("ticket_id");--> statement-breakpoint
CREATE INDEX "work_intervals_ticket_idx" ON "work_intervals" USING btree ("ticket_id");--> statement-breakpoint
CREATE INDEX "work_intervals_agent_started_idx" ON "work_intervals" USING btree ("agent_id","started_at");--> statement-breakpoint
CREATE INDEX "work_intervals_started_idx" ON "work_intervals" USING btree ("started_at");--> statement-breakpoint
CREATE INDEX "work_intervals_message_uq" ON "work_intervals" USING btree ("message_id") WHERE "work_intervals"."message_id" is not null;--> statement-breakpoint
ALTER TABLE "tickets" ADD CONSTRAINT "tickets_reason_id_reasons_id_fk" FOREIGN KEY ("reason_id") REFERENCES "public"."reasons"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tickets" ADD CONSTRAINT "tickets_root_cause_id_root_causes_id_fk" FOREIGN KEY ("root_cause_id") REFERENCES "public"."root_causes"("id") ON DELETE restrict ON UPDATE no action;