CREATE TABLE "csat_surveys" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"ticket_id" uuid NOT NULL,
	"token_hash" text NOT NULL,
	"agent_id" uuid,
	"team_id" uuid,
	"channel" text NOT NULL,
	"language" text,
	"offered_at" timestamp (3) with time zone NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	"responded_at" timestamp (3) with time zone,
	"score" integer,
	"comment" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "csat_surveys_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
ALTER TABLE "tickets" ADD COLUMN "fcr_state" text DEFAULT 'pending' NOT NULL;--> statement-breakpoint
ALTER TABLE "tickets" ADD COLUMN "fcr_settles_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "csat_surveys" ADD CONSTRAINT "csat_surveys_ticket_id_tickets_id_fk" FOREIGN KEY ("ticket_id") REFERENCES "public"."tickets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "csat_surveys" ADD CONSTRAINT "csat_surveys_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "csat_surveys_ticket_id_idx" ON "csat_surveys" USING btree ("ticket_id");--> statement-breakpoint
CREATE INDEX "csat_surveys_agent_id_idx" ON "csat_surveys" USING btree ("agent_id");--> statement-breakpoint
CREATE INDEX "csat_surveys_offered_idx" ON "csat_surveys" USING btree ("offered_at");--> statement-breakpoint
CREATE INDEX "tickets_fcr_settle_idx" ON "tickets" USING btree ("fcr_settles_at") WHERE "tickets"."fcr_state" = 'pending' and "tickets"."fcr_settles_at" is not null;