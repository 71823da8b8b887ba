-- Deleting presence changes marked, row by row, every hour from each deleted change to the agent's
-- next change; inside one DELETE that next change is often deleted too, so each row marked every
-- hour up to now (a seed wipe of 640 rows wrote about four million dirty-hour rows and took 8 s).
-- One statement-level trigger marks, per agent, the span from its first deleted change to its next
-- remaining one, each hour once.
DROP TRIGGER kpi_rollup_presence_delete ON agent_presence_events;
--> statement-breakpoint
CREATE FUNCTION kpi_rollup_presence_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO kpi_rollup_dirty_hours (hour)
  SELECT DISTINCT h
  FROM (
    SELECT d.first_at AS s,
           coalesce((SELECT min(p.at) FROM agent_presence_events p WHERE p.agent_id = d.agent_id AND p.at > d.last_at), statement_timestamp()) AS e
    FROM (SELECT agent_id, min(at) AS first_at, max(at) AS last_at FROM deleted_rows GROUP BY agent_id) d
  ) span,
  generate_series(date_trunc('hour', span.s, 'UTC'), least(span.e, date_trunc('hour', statement_timestamp(), 'UTC')), interval '1 hour') AS h
  WHERE h < span.e AND h < date_trunc('hour', statement_timestamp(), 'UTC');
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER kpi_rollup_presence_delete AFTER DELETE ON agent_presence_events REFERENCING OLD TABLE AS deleted_rows
  FOR EACH STATEMENT EXECUTE FUNCTION kpi_rollup_presence_deleted();
