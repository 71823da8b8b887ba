-- The audit trail is append-only (issue 15): no UPDATE, no TRUNCATE, and no DELETE of a row still
-- within its retention period, whoever asks (the service's own role included). Retention may
-- delete a row older than privacy_retention_settings.audit_years (default 5), judged by the
-- database's clock.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  keep_years integer;
BEGIN
  IF TG_OP = 'DELETE' THEN
    SELECT audit_years INTO keep_years FROM privacy_retention_settings WHERE id = 1;
    IF OLD.occurred_at < now() - make_interval(years => coalesce(keep_years, 5)) THEN
      RETURN OLD;
    END IF;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
--> statement-breakpoint
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
