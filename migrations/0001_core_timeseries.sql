-- Time-series core: devices (minimal; the registry extends it), readings, events,
-- device_state and quarantine. Runs on plain PostgreSQL 15+; 0002 adds TimescaleDB.

CREATE TABLE devices (
    device_id            text PRIMARY KEY CHECK (device_id ~ '^[A-Za-z0-9_-]{3,64}$'),
    device_type          text NOT NULL
                         CHECK (device_type IN ('emergency_button', 'smoke', 'gas', 'pir')),
    state                text NOT NULL DEFAULT 'registered'
                         CHECK (state IN ('registered', 'commissioned', 'maintenance', 'decommissioned')),
    heartbeat_interval_s integer NOT NULL DEFAULT 3600 CHECK (heartbeat_interval_s > 0),
    created_at           timestamptz NOT NULL DEFAULT now()
);

-- One row per telemetry message. Sensor columns are NULL when the message did not carry
-- them; a row with every sensor column NULL is a heartbeat.
CREATE TABLE readings (
    device_id     text NOT NULL REFERENCES devices,
    ts            timestamptz NOT NULL,          -- device time: the idempotency key needs it
    msg_id        text NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    battery       smallint CHECK (battery BETWEEN 0 AND 100),
    battery_low   boolean,
    rssi          smallint,
    temperature   real,
    tamper        boolean,
    smoke         boolean,
    smoke_density real,
    gas           boolean,
    gas_lel       real CHECK (gas_lel >= 0),
    motion        boolean,
    illuminance   real,
    extra         jsonb                          -- source keys without a column (e.g. linkquality)
);
-- A redelivered message is stored once. TimescaleDB requires unique indexes to include
-- the time column, hence (device_id, ts, msg_id); it also serves "latest for a device".
CREATE UNIQUE INDEX readings_device_ts_msg ON readings (device_id, ts DESC, msg_id);
CREATE INDEX readings_ts_brin ON readings USING brin (ts);

CREATE TABLE events (
    device_id   text NOT NULL REFERENCES devices,
    ts          timestamptz NOT NULL,
    msg_id      text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    event       text NOT NULL CHECK (event IN ('button_press', 'alarm', 'alarm_clear', 'tamper',
                                               'self_test', 'fault', 'low_battery')),
    detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX events_device_ts_msg ON events (device_id, ts DESC, msg_id);
CREATE INDEX events_ts_brin ON events USING brin (ts);

-- What is known about each device right now; the offline and inactivity timers read it.
CREATE TABLE device_state (
    device_id       text PRIMARY KEY REFERENCES devices ON DELETE CASCADE,
    online          boolean,
    status_ts       timestamptz,                 -- device time of the last status message
    firmware        text,
    last_seen_at    timestamptz,                 -- arrival time of the last message of any kind
    last_reading_ts timestamptz,                 -- device time of the newest reading
    last_motion_at  timestamptz,
    battery         smallint,
    battery_low     boolean,
    rssi            smallint,
    last_values     jsonb NOT NULL DEFAULT '{}',
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Everything ingest could not decode, validate or attribute: kept byte for byte, with why.
CREATE TABLE quarantine (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    topic       text NOT NULL,
    payload     bytea NOT NULL,
    reason      text NOT NULL,                   -- short code, e.g. bad_json, unknown_device
    detail      text,                            -- what exactly was wrong, for people
    device_id   text                             -- when the topic names one; not a reference
);
CREATE INDEX quarantine_received_at ON quarantine (received_at DESC);
CREATE INDEX quarantine_reason ON quarantine (reason, received_at DESC);
