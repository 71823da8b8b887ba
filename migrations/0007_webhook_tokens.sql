CREATE TABLE "webhook_tokens" (
	"channel" text NOT NULL,
	"token" text NOT NULL,
	"content_digest" text NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "webhook_tokens_channel_token_pk" PRIMARY KEY("channel","token")
);
--> statement-breakpoint
CREATE INDEX "webhook_tokens_expires_idx" ON "webhook_tokens" USING btree ("expires_at");