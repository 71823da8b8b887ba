CREATE TABLE "audit_log" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "audit_log_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"occurred_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"actor_key_id" uuid,
	"actor_agent_id" uuid,
	"actor_role" text NOT NULL,
	"request_id" text NOT NULL,
	"ip" text,
	"action" text NOT NULL,
	"route" text NOT NULL,
	"resource" text NOT NULL,
	"customer_id" uuid,
	"status" integer NOT NULL,
	"changes" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "mailboxes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"host" text NOT NULL,
	"port" integer NOT NULL,
	"tls" text NOT NULL,
	"username" text NOT NULL,
	"auth_kind" text NOT NULL,
	"secret" text NOT NULL,
	"oauth_token_url" text,
	"oauth_client_id" text,
	"oauth_scope" text,
	"folder" text DEFAULT 'INBOX' NOT NULL,
	"after_ingest" text DEFAULT 'seen' NOT NULL,
	"move_to" text,
	"team_id" uuid,
	"default_priority" text DEFAULT 'normal' NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"uid_validity" bigint,
	"last_uid" bigint DEFAULT 0 NOT NULL,
	"lease_owner" text,
	"lease_expires_at" timestamp (3) with time zone,
	"connected" boolean DEFAULT false NOT NULL,
	"last_fetched_at" timestamp (3) with time zone,
	"last_error" text,
	"last_error_at" timestamp (3) with time zone,
	"consecutive_failures" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp (3) with time zone,
	"backlog" integer DEFAULT 0 NOT NULL,
	"ingested_count" bigint DEFAULT 0 NOT NULL,
	"dead_lettered_count" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "mailboxes_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "customer_erasures" (
	"customer_id" uuid PRIMARY KEY NOT NULL,
	"reason" text NOT NULL,
	"actor_key_id" uuid,
	"erased_at" timestamp (3) with time zone NOT NULL,
	"removed" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "privacy_retention_settings" (
	"id" smallint PRIMARY KEY NOT NULL,
	"raw_payload_days" integer DEFAULT 90 NOT NULL,
	"closed_ticket_months" integer,
	"audit_years" integer DEFAULT 5 NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"last_run_at" timestamp (3) with time zone,
	"last_run" jsonb
);
--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "authentication" jsonb;--> statement-breakpoint
ALTER TABLE "tickets" ADD COLUMN "sender_unverified" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "tickets" ADD COLUMN "sender_unverified_reason" text;--> statement-breakpoint
ALTER TABLE "mailboxes" ADD CONSTRAINT "mailboxes_team_id_teams_id_fk" FOREIGN KEY ("team_id") REFERENCES "public"."teams"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_log_occurred_idx" ON "audit_log" USING btree ("occurred_at","id");--> statement-breakpoint
CREATE INDEX "audit_log_resource_idx" ON "audit_log" USING btree ("resource" text_pattern_ops,"id");--> statement-breakpoint
CREATE INDEX "audit_log_actor_key_idx" ON "audit_log" USING btree ("actor_key_id","id");--> statement-breakpoint
CREATE INDEX "audit_log_actor_agent_idx" ON "audit_log" USING btree ("actor_agent_id","id");--> statement-breakpoint
CREATE INDEX "audit_log_customer_idx" ON "audit_log" USING btree ("customer_id","id");--> statement-breakpoint
CREATE INDEX "mailboxes_team_id_idx" ON "mailboxes" USING btree ("team_id");--> statement-breakpoint
CREATE INDEX "mailboxes_active_idx" ON "mailboxes" USING btree ("active") WHERE "mailboxes"."active";