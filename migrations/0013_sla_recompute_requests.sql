CREATE TABLE "sla_recompute_requests" (
	"policy_id" uuid PRIMARY KEY NOT NULL,
	"request_id" uuid NOT NULL,
	"requested_at" timestamp (3) with time zone NOT NULL
);
