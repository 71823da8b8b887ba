CREATE TABLE "kpi_rollup_dirty_hours" (
	"hour" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "kpi_rollup_state" (
	"id" smallint PRIMARY KEY NOT NULL,
	"watermark" timestamp with time zone NOT NULL,
	"refreshed_at" timestamp with time zone NOT NULL,
	"last_refresh" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "kpi_rollups" (
	"period" text NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"channel" text NOT NULL,
	"team_id" uuid,
	"dim" text NOT NULL,
	"value" text,
	"created" integer NOT NULL,
	"done" integer NOT NULL,
	"counts" jsonb NOT NULL,
	"sketches" "bytea" NOT NULL
);
--> statement-breakpoint
CREATE INDEX "kpi_rollup_dirty_hours_hour_idx" ON "kpi_rollup_dirty_hours" USING btree ("hour");--> statement-breakpoint
CREATE INDEX "kpi_rollups_period_dim_starts_idx" ON "kpi_rollups" USING btree ("period","dim","starts_at");