-- One bad row never stops the work for everyone else (safety invariant 3).
--
-- 1. A signal whose evaluation fails is no longer marked processed: it keeps its last
--    error, counts its attempts and waits until retry_at before the engine tries it
--    again, so it neither blocks the rows behind it nor is given up on.
--    Rows that earlier versions parked (processed_at set, error kept) stay as they are.
ALTER TABLE alert_outbox
    ADD COLUMN attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN retry_at timestamptz;
