-- tickets.search: the planner knows a word's frequency only if the word is among the tsvector's
-- most common elements (ANALYZE keeps about 10 x the statistics target of them, from a sample
-- of 300 x target rows). At the default target of 100 a word in 0.1% of tickets (the bench's
-- 'chargeback') sits at the list's cut-off: in some samples it drops out, the planner then
-- assumes it is several times more common, walks tickets_created_idx newest first expecting to
-- meet 50 matches soon, and reads tens of thousands of rows (150-212 ms instead of a few ms
-- through the GIN index). A target of 1000 keeps words down to about 0.01% in the list.
ALTER TABLE "tickets" ALTER COLUMN "search" SET STATISTICS 1000;
--> statement-breakpoint
ANALYZE "tickets" ("search");
