-- Issue 18: the three months after the legacy partition, made here, when the tables are not
-- yet in use, so the maintenance job that runs when a worker starts finds them made (with the
-- default PARTITION_MONTHS_AHEAD) and takes no lock at all; without them, every worker start
-- in the first month ATTACHed three months per table while the service was taking traffic.
DO $$
DECLARE
  spec record;
  upper timestamptz;
  month_from timestamptz;
  month_to timestamptz;
  free boolean;
BEGIN
  FOR spec IN SELECT * FROM (VALUES ('ticket_events', 'created_at'), ('sla_stream_events', 'created_at'), ('inbound_payloads', 'received_at')) AS t(tbl, col) LOOP
    -- The legacy partition's upper bound (the latest range partition's, if months exist already).
    SELECT max((regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz)
      INTO upper
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = spec.tbl::regclass AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT';
    FOR n IN 0..2 LOOP
      month_from := ((upper AT TIME ZONE 'UTC') + make_interval(months => n)) AT TIME ZONE 'UTC';
      month_to := ((upper AT TIME ZONE 'UTC') + make_interval(months => n + 1)) AT TIME ZONE 'UTC';
      -- A month the default partition already holds rows of is left to the job (it moves them).
      EXECUTE format('SELECT NOT EXISTS (SELECT 1 FROM %I WHERE %I >= %L AND %I < %L)', spec.tbl || '_default', spec.col, month_from, spec.col, month_to) INTO free;
      IF free THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
          spec.tbl || '_p' || to_char(month_from AT TIME ZONE 'UTC', 'YYYY_MM'), spec.tbl, month_from, month_to);
      END IF;
    END LOOP;
  END LOOP;
END $$;
