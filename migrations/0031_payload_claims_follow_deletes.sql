-- Issue 18: a raw payload's dedupe claim (inbound_payload_keys) lives exactly as long as the
-- payload row, as the unique index it replaced did: when retention or an erasure deletes a
-- payload, its claim goes in the same statement, so a later delivery of the same bytes is
-- stored again (with the messages it creates) instead of being taken for a duplicate of a
-- payload that no longer exists. Dropping a whole expired month fires no trigger; the partition
-- job deletes the claims older than the retention itself. The partition job also moves rows
-- out of the default partition (a delete and an insert): it sets cd.moving_partition_rows for
-- its transaction so their claims stay.
CREATE FUNCTION "inbound_payload_claim_release"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(current_setting('cd.moving_partition_rows', true), '') = 'on' THEN
    RETURN NULL;
  END IF;
  DELETE FROM "inbound_payload_keys" k WHERE k."channel" = OLD."channel" AND k."sha256" = OLD."sha256" AND k."received_at" = OLD."received_at";
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "inbound_payloads_release_claim" AFTER DELETE ON "inbound_payloads" FOR EACH ROW EXECUTE FUNCTION "inbound_payload_claim_release"();
