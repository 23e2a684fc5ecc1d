-- Every provider request that can acknowledge an alert (an SMS reply, a key pressed in a
-- call) is recorded here by the provider's own id, in the same transaction as its effect.
-- The unique key makes a replayed request (a provider's retry, or a captured request sent
-- again) a conflict: it is answered "already received" and changes nothing. A concurrent
-- copy waits on the key until the first commits, then conflicts too.

CREATE TABLE inbound_receipts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider        text NOT NULL,          -- the notifier's name: twilio
    message_id      text NOT NULL,          -- Twilio MessageSid; CallSid:Digits for a key
    kind            text NOT NULL CHECK (kind IN ('sms_reply', 'keypad')),
    sender          text NOT NULL,          -- the number it came from
    received_at     timestamptz NOT NULL,
    outcome         text NOT NULL,          -- what it did: acknowledged, ambiguous, …
    alert_id        bigint REFERENCES alerts ON DELETE SET NULL,
    notification_id bigint REFERENCES notifications ON DELETE SET NULL,
    UNIQUE (provider, message_id)
);
CREATE INDEX inbound_receipts_alert ON inbound_receipts (alert_id) WHERE alert_id IS NOT NULL;

