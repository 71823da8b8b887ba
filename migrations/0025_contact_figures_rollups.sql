-- Issue 16: the KPI rollups gain the contact-center figures (handle time, phone queue, CES, NPS,
-- redress, service level of digital first responses) and the reason / root-cause dimensions.
-- A rollup cell now holds five sketches (handle time added): the stored cells of the old form
-- are dropped, and the next refresh rebuilds every day (the first build of a large install
-- takes minutes; until then reports use the exact statement).
DELETE FROM kpi_rollups;
--> statement-breakpoint
DELETE FROM kpi_rollup_dirty_hours;
--> statement-breakpoint
DELETE FROM kpi_rollup_state;
--> statement-breakpoint
-- Every fact of a ticket is also grouped by its reason and root cause: a reclassified ticket
-- moves its clocks, breaches, surveys, commitments and queue calls to another group.
CREATE OR REPLACE FUNCTION kpi_rollup_ticket_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    PERFORM kpi_rollup_mark(OLD.created_at, OLD.first_response_at, OLD.solved_at, OLD.closed_at);
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    PERFORM kpi_rollup_mark(NEW.created_at, NEW.first_response_at, NEW.solved_at, NEW.closed_at);
  END IF;
  IF TG_OP = 'UPDATE' AND (OLD.channel, OLD.team_id, OLD.assignee_id, OLD.language, OLD.priority, OLD.reason_id, OLD.root_cause_id)
      IS DISTINCT FROM (NEW.channel, NEW.team_id, NEW.assignee_id, NEW.language, NEW.priority, NEW.reason_id, NEW.root_cause_id) THEN
    PERFORM kpi_rollup_mark(VARIADIC ARRAY(
      SELECT stopped_at FROM sla_clocks WHERE ticket_id = NEW.id AND stopped_at IS NOT NULL
      UNION ALL SELECT breached_at FROM breaches WHERE ticket_id = NEW.id
      UNION ALL SELECT offered_at FROM csat_surveys WHERE ticket_id = NEW.id
      UNION ALL SELECT due_at FROM commitments WHERE ticket_id = NEW.id
      UNION ALL SELECT offered_at FROM phone_queue_calls WHERE ticket_id = NEW.id));
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
DROP TRIGGER kpi_rollup_tickets_update ON tickets;
--> statement-breakpoint
-- Handle time (handling_sec, after_work_sec) and the redress are facts of the solve.
CREATE TRIGGER kpi_rollup_tickets_update AFTER UPDATE ON tickets FOR EACH ROW
  WHEN (least(OLD.created_at, NEW.created_at) < date_trunc('hour', statement_timestamp(), 'UTC')
    AND (OLD.created_at, OLD.first_response_at, OLD.solved_at, OLD.closed_at, OLD.reopen_count, OLD.handoff_count, OLD.fcr_state,
         OLD.channel, OLD.team_id, OLD.assignee_id, OLD.language, OLD.priority,
         OLD.reason_id, OLD.root_cause_id, OLD.handling_sec, OLD.after_work_sec, OLD.redress_kind, OLD.redress_amount, OLD.redress_currency)
    IS DISTINCT FROM (NEW.created_at, NEW.first_response_at, NEW.solved_at, NEW.closed_at, NEW.reopen_count, NEW.handoff_count, NEW.fcr_state,
         NEW.channel, NEW.team_id, NEW.assignee_id, NEW.language, NEW.priority,
         NEW.reason_id, NEW.root_cause_id, NEW.handling_sec, NEW.after_work_sec, NEW.redress_kind, NEW.redress_amount, NEW.redress_currency))
  EXECUTE FUNCTION kpi_rollup_ticket_changed();
--> statement-breakpoint
CREATE FUNCTION kpi_rollup_queue_call_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN PERFORM kpi_rollup_mark(OLD.offered_at); END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN PERFORM kpi_rollup_mark(NEW.offered_at); END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
-- A call is recorded when it leaves the queue: its offered_at (entry) may lie in an hour that closed.
CREATE TRIGGER kpi_rollup_queue_calls_insert AFTER INSERT ON phone_queue_calls FOR EACH ROW
  WHEN (NEW.offered_at < date_trunc('hour', statement_timestamp(), 'UTC')) EXECUTE FUNCTION kpi_rollup_queue_call_changed();
--> statement-breakpoint
CREATE TRIGGER kpi_rollup_queue_calls_update AFTER UPDATE ON phone_queue_calls FOR EACH ROW EXECUTE FUNCTION kpi_rollup_queue_call_changed();
--> statement-breakpoint
CREATE TRIGGER kpi_rollup_queue_calls_delete AFTER DELETE ON phone_queue_calls FOR EACH ROW EXECUTE FUNCTION kpi_rollup_queue_call_changed();
