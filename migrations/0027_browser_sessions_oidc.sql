ALTER TABLE "browser_sessions" ADD COLUMN "oidc_issuer" text;--> statement-breakpoint
ALTER TABLE "browser_sessions" ADD COLUMN "oidc_subject" text;--> statement-breakpoint
ALTER TABLE "browser_sessions" ADD COLUMN "principal_key_id" uuid;