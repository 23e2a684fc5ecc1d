-- Alerts, their timeline and every notification attempt. Escalation deadlines are stored
-- here (next_due_at), never only in memory: a restart neither resets nor forgets them,
-- and several engines coordinate through row locks (FOR UPDATE SKIP LOCKED).

-- Rule thresholds: district defaults and per-elder overrides, e.g.
-- {"gas_lel_threshold": 10, "inactivity_hours": 12, "morning_hour": 10}.
ALTER TABLE districts ADD COLUMN rule_settings jsonb NOT NULL DEFAULT '{}';
ALTER TABLE elders ADD COLUMN rule_settings jsonb NOT NULL DEFAULT '{}';

-- Why an outbox row could not be evaluated (kept, not retried forever).
ALTER TABLE alert_outbox ADD COLUMN error text;

CREATE TABLE alerts (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    elder_id             bigint REFERENCES elders ON DELETE SET NULL,
    device_id            text REFERENCES devices,
    rule                 text NOT NULL,
    severity             text NOT NULL CHECK (severity IN ('critical', 'warning', 'maintenance')),
    status               text NOT NULL DEFAULT 'open'
                         CHECK (status IN ('open', 'notified', 'acknowledged', 'on_site',
                                           'resolved')),
    test                 boolean NOT NULL DEFAULT false, -- device not commissioned: installer only
    opened_at            timestamptz NOT NULL,
    triggered_at         timestamptz NOT NULL,          -- device time of the first trigger
    last_triggered_at    timestamptz NOT NULL,
    trigger_count        integer NOT NULL DEFAULT 1,
    condition_cleared_at timestamptz,
    acknowledged_at      timestamptz,
    acknowledged_by      text,
    on_site_at           timestamptz,
    on_site_by           text,
    resolved_at          timestamptz,
    resolved_by          text,
    outcome              text CHECK (outcome IN ('handled', 'false_alarm', 'hospital',
                                                 'no_action_needed', 'device_fixed',
                                                 'auto_cleared', 'other')),
    note                 text NOT NULL DEFAULT '',
    policy               jsonb,                         -- the escalation policy, as opened
    level                integer NOT NULL DEFAULT -1,   -- escalation level reached (0-based)
    rounds               integer NOT NULL DEFAULT 0,    -- repeats of the last level
    next_due_at          timestamptz,                   -- when the sweep must act next
    due_reason           text CHECK (due_reason IN ('escalate', 'on_site_deadline')),
    source_outbox_id     bigint
);
-- One open alert per (elder, rule, device): repeats add to it instead of paging again.
CREATE UNIQUE INDEX alerts_one_open ON alerts (elder_id, rule, device_id) NULLS NOT DISTINCT
    WHERE status <> 'resolved';
CREATE INDEX alerts_due ON alerts (next_due_at) WHERE next_due_at IS NOT NULL;
CREATE INDEX alerts_elder ON alerts (elder_id, opened_at DESC);
CREATE INDEX alerts_opened ON alerts (opened_at DESC);

CREATE TABLE alert_timeline (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id bigint NOT NULL REFERENCES alerts ON DELETE CASCADE,
    at       timestamptz NOT NULL,
    kind     text NOT NULL,     -- opened, repeated, escalated, notified, delivered, failed,
                                -- acknowledged, on_site, cleared, deadline_missed, resolved
    actor    text NOT NULL,     -- a username, a contact, or "system"
    detail   jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX alert_timeline_alert ON alert_timeline (alert_id, id);

-- Every attempt to reach a person. A row is claimed before it is sent (status
-- 'sending'), so two engines never send the same notification.
CREATE TABLE notifications (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id        bigint NOT NULL REFERENCES alerts ON DELETE CASCADE,
    level           integer NOT NULL,
    round           integer NOT NULL DEFAULT 0,
    contact_id      bigint REFERENCES contacts ON DELETE SET NULL,
    user_id         bigint REFERENCES users ON DELETE SET NULL,
    channel         text NOT NULL CHECK (channel IN ('sms', 'voice', 'app', 'webhook')),
    provider        text,
    to_address      text NOT NULL,
    locale          text NOT NULL DEFAULT 'zh-CN',
    template        text NOT NULL,
    body            text NOT NULL,
    params          jsonb NOT NULL DEFAULT '{}',
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'queued', 'sent', 'delivered',
                                      'failed', 'cancelled')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    provider_id     text,
    error           text,
    fallback_of     bigint REFERENCES notifications,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_alert ON notifications (alert_id, id);
CREATE INDEX notifications_pending ON notifications (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX notifications_provider ON notifications (provider_id);
CREATE INDEX notifications_to ON notifications (to_address, created_at DESC);
