-- Issue 16/18: occupancy at month scale. The agents' time per UTC hour (logged in, available,
-- away, handling, available idle; milliseconds), refreshed with the KPI rollups
-- (kpi-occupancy.ts), so that the KPI report's occupancy no longer reads a month of work
-- intervals and presence changes.
CREATE TABLE "agent_hour_rollups" (
	"hour" timestamp with time zone NOT NULL,
	"agent_id" uuid NOT NULL,
	"logged_in_ms" bigint NOT NULL,
	"available_ms" bigint NOT NULL,
	"away_ms" bigint NOT NULL,
	"handling_ms" bigint NOT NULL,
	"idle_ms" bigint NOT NULL,
	CONSTRAINT "agent_hour_rollups_hour_agent_id_pk" PRIMARY KEY("hour","agent_id")
);
--> statement-breakpoint
-- Marks every closed UTC hour that [s, e) touches (the open hour and later ones are never marked:
-- the refresh reads them live or recomputes them as they close).
CREATE FUNCTION kpi_rollup_mark_span(s timestamptz, e timestamptz) RETURNS void LANGUAGE sql AS $$
  INSERT INTO kpi_rollup_dirty_hours (hour)
  SELECT h FROM generate_series(date_trunc('hour', s, 'UTC'), least(e, date_trunc('hour', statement_timestamp(), 'UTC')), interval '1 hour') AS h
  WHERE h < e AND h < date_trunc('hour', statement_timestamp(), 'UTC')
$$;
--> statement-breakpoint
-- A work interval counts in every hour it overlaps (at most 25: intervals are at most 24 h long).
CREATE FUNCTION kpi_rollup_work_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN PERFORM kpi_rollup_mark_span(OLD.started_at, OLD.ended_at); END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN PERFORM kpi_rollup_mark_span(NEW.started_at, NEW.ended_at); END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER kpi_rollup_work_insert AFTER INSERT ON work_intervals FOR EACH ROW
  WHEN (NEW.started_at < date_trunc('hour', statement_timestamp(), 'UTC')) EXECUTE FUNCTION kpi_rollup_work_changed();
--> statement-breakpoint
CREATE TRIGGER kpi_rollup_work_update AFTER UPDATE ON work_intervals FOR EACH ROW
  WHEN ((OLD.started_at, OLD.ended_at, OLD.agent_id) IS DISTINCT FROM (NEW.started_at, NEW.ended_at, NEW.agent_id)) EXECUTE FUNCTION kpi_rollup_work_changed();
--> statement-breakpoint
CREATE TRIGGER kpi_rollup_work_delete AFTER DELETE ON work_intervals FOR EACH ROW EXECUTE FUNCTION kpi_rollup_work_changed();
--> statement-breakpoint
-- A presence change rules the agent's status from its instant until the agent's next change.
CREATE FUNCTION kpi_rollup_presence_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    PERFORM kpi_rollup_mark_span(OLD.at, coalesce((SELECT min(p.at) FROM agent_presence_events p WHERE p.agent_id = OLD.agent_id AND p.at > OLD.at), statement_timestamp()));
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    PERFORM kpi_rollup_mark_span(NEW.at, coalesce((SELECT min(p.at) FROM agent_presence_events p WHERE p.agent_id = NEW.agent_id AND p.at > NEW.at), statement_timestamp()));
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
-- Routing writes presence changes as they happen (in the open hour): those call nothing.
CREATE TRIGGER kpi_rollup_presence_insert AFTER INSERT ON agent_presence_events FOR EACH ROW
  WHEN (NEW.at < date_trunc('hour', statement_timestamp(), 'UTC')) EXECUTE FUNCTION kpi_rollup_presence_changed();
--> statement-breakpoint
CREATE TRIGGER kpi_rollup_presence_update AFTER UPDATE ON agent_presence_events FOR EACH ROW EXECUTE FUNCTION kpi_rollup_presence_changed();
--> statement-breakpoint
CREATE TRIGGER kpi_rollup_presence_delete AFTER DELETE ON agent_presence_events FOR EACH ROW EXECUTE FUNCTION kpi_rollup_presence_changed();
--> statement-breakpoint
-- The stored hours have no agent rows yet: the next refresh rebuilds every day (as migration 0025
-- did); until then reports use the exact statement.
DELETE FROM kpi_rollups;
--> statement-breakpoint
DELETE FROM kpi_rollup_dirty_hours;
--> statement-breakpoint
DELETE FROM kpi_rollup_state;
