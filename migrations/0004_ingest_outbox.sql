-- The hand-off from ingest to the alert engine. Ingest writes a row here in the same
-- transaction that stores the message, for every event and every change of an alarm
-- flag; the engine marks it processed in the transaction that creates or updates the
-- alert. A crash between the two therefore loses nothing: unprocessed rows are picked
-- up again on start.

CREATE TABLE alert_outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id    text NOT NULL REFERENCES devices,
    ts           timestamptz NOT NULL,        -- device time of the message
    msg_id       text NOT NULL,
    received_at  timestamptz NOT NULL,
    signal       text NOT NULL,               -- an event kind, or a reading flag (smoke, gas …)
    raised       boolean NOT NULL DEFAULT true, -- false: the condition cleared
    value        double precision,            -- gas_lel, battery … when the signal has one
    detail       jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz
);
CREATE INDEX alert_outbox_pending ON alert_outbox (id) WHERE processed_at IS NULL;

-- Alarm flags currently raised per device (smoke, gas, tamper, battery_low …), so a
-- flag is signalled when it changes, not with every message that repeats it.
ALTER TABLE device_state
    ADD COLUMN raised_flags text[] NOT NULL DEFAULT '{}',
    ADD COLUMN last_reading_msg text;  -- with last_reading_ts: the newest reading by device order
