-- KPI rollups (src/modules/reports/kpi-rollup.refresh.ts): every change to a fact in an hour that
-- has already closed marks that UTC hour dirty, so the maintenance worker re-aggregates it. A fact
-- belongs to the hour of its own instant, as in the exact statement (kpi.queries.ts); a change
-- marks the hours of the old AND the new instants (a reopen clears solved_at: the old hour loses
-- a solve). Hours still open are never marked: the refresh only aggregates hours that closed
-- KPI_ROLLUP margin ago, and reads later hours live. Inserts are append-only (no unique key), so
-- concurrent writers never wait on each other; WHEN clauses keep the hot paths (a ticket created
-- this hour, a running clock) from calling any function at all.
CREATE FUNCTION kpi_rollup_mark(VARIADIC instants timestamptz[]) RETURNS void LANGUAGE sql AS $$
  INSERT INTO kpi_rollup_dirty_hours (hour)
  SELECT DISTINCT date_trunc('hour', i, 'UTC') FROM unnest(instants) AS i
  WHERE i < date_trunc('hour', statement_timestamp(), 'UTC')
$$;
--> statement-breakpoint
CREATE FUNCTION kpi_rollup_ticket_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    PERFORM kpi_rollup_mark(OLD.created_at, OLD.first_response_at, OLD.solved_at, OLD.closed_at);
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    PERFORM kpi_rollup_mark(NEW.created_at, NEW.first_response_at, NEW.solved_at, NEW.closed_at);
  END IF;
  -- Every fact of the ticket is grouped by these attributes: its clocks, breaches, surveys and
  -- commitments move to another group too.
  IF TG_OP = 'UPDATE' AND (OLD.channel, OLD.team_id, OLD.assignee_id, OLD.language, OLD.priority)
      IS DISTINCT FROM (NEW.channel, NEW.team_id, NEW.assignee_id, NEW.language, NEW.priority) THEN
    PERFORM kpi_rollup_mark(VARIADIC ARRAY(
      SELECT stopped_at FROM sla_clocks WHERE ticket_id = NEW.id AND stopped_at IS NOT NULL
      UNION ALL SELECT breached_at FROM breaches WHERE ticket_id = NEW.id
      UNION ALL SELECT offered_at FROM csat_surveys WHERE ticket_id = NEW.id
      UNION ALL SELECT due_at FROM commitments WHERE ticket_id = NEW.id));
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
-- A clock's used_sec is the business time of its ticket's first response or resolution fact.
CREATE FUNCTION kpi_rollup_clock_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    PERFORM kpi_rollup_mark(OLD.stopped_at, (SELECT CASE OLD.metric WHEN 'first_response' THEN first_response_at WHEN 'resolution' THEN solved_at END FROM tickets WHERE id = OLD.ticket_id));
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    PERFORM kpi_rollup_mark(NEW.stopped_at, (SELECT CASE NEW.metric WHEN 'first_response' THEN first_response_at WHEN 'resolution' THEN solved_at END FROM tickets WHERE id = NEW.ticket_id));
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION kpi_rollup_breach_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN PERFORM kpi_rollup_mark(OLD.breached_at); END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN PERFORM kpi_rollup_mark(NEW.breached_at); END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION kpi_rollup_survey_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN PERFORM kpi_rollup_mark(OLD.offered_at); END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN PERFORM kpi_rollup_mark(NEW.offered_at); END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION kpi_rollup_commitment_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN PERFORM kpi_rollup_mark(OLD.due_at); END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN PERFORM kpi_rollup_mark(NEW.due_at); END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
-- A ticket's facts are never earlier than its creation: a ticket created in the open hour has
-- nothing in a closed one.
CREATE TRIGGER kpi_rollup_tickets_insert AFTER INSERT ON tickets FOR EACH ROW
  WHEN (NEW.created_at < date_trunc('hour', statement_timestamp(), 'UTC'))
  EXECUTE FUNCTION kpi_rollup_ticket_changed();
--> statement-breakpoint
CREATE TRIGGER kpi_rollup_tickets_update AFTER UPDATE ON tickets FOR EACH ROW
  WHEN (least(OLD.created_at, NEW.created_at) < date_trunc('hour', statement_timestamp(), 'UTC')
    AND (OLD.created_at, OLD.first_response_at, OLD.solved_at, OLD.closed_at, OLD.reopen_count, OLD.handoff_count, OLD.fcr_state,
         OLD.channel, OLD.team_id, OLD.assignee_id, OLD.language, OLD.priority)
    IS DISTINCT FROM (NEW.created_at, NEW.first_response_at, NEW.solved_at, NEW.closed_at, NEW.reopen_count, NEW.handoff_count, NEW.fcr_state,
         NEW.channel, NEW.team_id, NEW.assignee_id, NEW.language, NEW.priority))
  EXECUTE FUNCTION kpi_rollup_ticket_changed();
--> statement-breakpoint
CREATE TRIGGER kpi_rollup_tickets_delete AFTER DELETE ON tickets FOR EACH ROW EXECUTE FUNCTION kpi_rollup_ticket_changed();
--> statement-breakpoint
CREATE TRIGGER kpi_rollup_clocks_insert AFTER INSERT ON sla_clocks FOR EACH ROW WHEN (NEW.stopped_at IS NOT NULL) EXECUTE FUNCTION kpi_rollup_clock_changed();
--> statement-breakpoint
CREATE TRIGGER kpi_rollup_clocks_update AFTER UPDATE ON sla_clocks FOR EACH ROW
  WHEN ((OLD.stopped_at IS NOT NULL OR NEW.stopped_at IS NOT NULL)
    AND (OLD.stopped_at, OLD.state, OLD.used_sec, OLD.metric, OLD.ticket_id) IS DISTINCT FROM (NEW.stopped_at, NEW.state, NEW.used_sec, NEW.metric, NEW.ticket_id))
  EXECUTE FUNCTION kpi_rollup_clock_changed();
--> statement-breakpoint
CREATE TRIGGER kpi_rollup_clocks_delete AFTER DELETE ON sla_clocks FOR EACH ROW WHEN (OLD.stopped_at IS NOT NULL) EXECUTE FUNCTION kpi_rollup_clock_changed();
--> statement-breakpoint
CREATE TRIGGER kpi_rollup_breaches_insert AFTER INSERT ON breaches FOR EACH ROW
  WHEN (NEW.breached_at < date_trunc('hour', statement_timestamp(), 'UTC')) EXECUTE FUNCTION kpi_rollup_breach_changed();
--> statement-breakpoint
CREATE TRIGGER kpi_rollup_breaches_update AFTER UPDATE ON breaches FOR EACH ROW
  WHEN ((OLD.breached_at, OLD.metric, OLD.channel, OLD.team_id, OLD.ticket_id) IS DISTINCT FROM (NEW.breached_at, NEW.metric, NEW.channel, NEW.team_id, NEW.ticket_id))
  EXECUTE FUNCTION kpi_rollup_breach_changed();
--> statement-breakpoint
CREATE TRIGGER kpi_rollup_breaches_delete AFTER DELETE ON breaches FOR EACH ROW EXECUTE FUNCTION kpi_rollup_breach_changed();
--> statement-breakpoint
CREATE TRIGGER kpi_rollup_surveys_insert AFTER INSERT ON csat_surveys FOR EACH ROW
  WHEN (NEW.offered_at < date_trunc('hour', statement_timestamp(), 'UTC')) EXECUTE FUNCTION kpi_rollup_survey_changed();
--> statement-breakpoint
CREATE TRIGGER kpi_rollup_surveys_update AFTER UPDATE ON csat_surveys FOR EACH ROW
  WHEN ((OLD.offered_at, OLD.score, OLD.responded_at, OLD.channel, OLD.team_id, OLD.agent_id, OLD.language, OLD.ticket_id)
    IS DISTINCT FROM (NEW.offered_at, NEW.score, NEW.responded_at, NEW.channel, NEW.team_id, NEW.agent_id, NEW.language, NEW.ticket_id))
  EXECUTE FUNCTION kpi_rollup_survey_changed();
--> statement-breakpoint
CREATE TRIGGER kpi_rollup_surveys_delete AFTER DELETE ON csat_surveys FOR EACH ROW EXECUTE FUNCTION kpi_rollup_survey_changed();
--> statement-breakpoint
CREATE TRIGGER kpi_rollup_commitments_insert AFTER INSERT ON commitments FOR EACH ROW
  WHEN (NEW.due_at < date_trunc('hour', statement_timestamp(), 'UTC')) EXECUTE FUNCTION kpi_rollup_commitment_changed();
--> statement-breakpoint
CREATE TRIGGER kpi_rollup_commitments_update AFTER UPDATE ON commitments FOR EACH ROW
  WHEN ((OLD.due_at, OLD.state, OLD.ticket_id) IS DISTINCT FROM (NEW.due_at, NEW.state, NEW.ticket_id))
  EXECUTE FUNCTION kpi_rollup_commitment_changed();
--> statement-breakpoint
CREATE TRIGGER kpi_rollup_commitments_delete AFTER DELETE ON commitments FOR EACH ROW EXECUTE FUNCTION kpi_rollup_commitment_changed();
