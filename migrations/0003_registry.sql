-- Registry: where devices are, whose homes they watch, who to call and in what order,
-- who may sign in, and what everyone changed.

CREATE TABLE districts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),   -- e.g. 东胜区
    timezone   text NOT NULL DEFAULT 'Asia/Shanghai',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE communities (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    district_id bigint NOT NULL REFERENCES districts,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (district_id, name)
);

CREATE TABLE elders (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    community_id bigint NOT NULL REFERENCES communities,
    name         text NOT NULL,
    id_card      text,                        -- full number; masked in every answer but admin's
    birth_year   integer CHECK (birth_year BETWEEN 1900 AND 2100),
    phone        text,                        -- E.164
    health_notes text NOT NULL DEFAULT '',
    presence     text NOT NULL DEFAULT 'home' CHECK (presence IN ('home', 'away', 'hospital')),
    timezone     text NOT NULL DEFAULT 'Asia/Shanghai',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX elders_community ON elders (community_id);

CREATE TABLE homes (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    elder_id     bigint NOT NULL UNIQUE REFERENCES elders ON DELETE CASCADE,
    address      text NOT NULL,
    access_notes text NOT NULL DEFAULT ''     -- how a responder gets in (key with a neighbour…)
);

CREATE TABLE rooms (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    home_id bigint NOT NULL REFERENCES homes ON DELETE CASCADE,
    name    text NOT NULL,                    -- 厨房, 卧室, 卫生间 …
    UNIQUE (home_id, name)
);

ALTER TABLE devices
    ADD COLUMN home_id          bigint REFERENCES homes,
    ADD COLUMN room_id          bigint REFERENCES rooms,
    ADD COLUMN model            text NOT NULL DEFAULT '',
    ADD COLUMN serial           text NOT NULL DEFAULT '',
    ADD COLUMN power_source     text NOT NULL DEFAULT 'battery'
                                CHECK (power_source IN ('battery', 'mains')),
    ADD COLUMN zigbee_name      text UNIQUE,  -- Zigbee2MQTT friendly name
    ADD COLUMN zigbee_ieee      text UNIQUE CHECK (zigbee_ieee ~ '^0x[0-9a-f]{16}$'),
    ADD COLUMN commissioned_at  timestamptz,
    ADD COLUMN decommissioned_at timestamptz;
CREATE INDEX devices_home ON devices (home_id);

CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9_.@-]{3,64}$'),
    display_name  text NOT NULL DEFAULT '',
    password_hash text NOT NULL,              -- argon2id
    role          text NOT NULL
                  CHECK (role IN ('admin', 'operator', 'installer', 'community_worker', 'family')),
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Staff see the districts they are assigned to; family members the elders they belong to.
CREATE TABLE user_districts (
    user_id     bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    district_id bigint NOT NULL REFERENCES districts,
    PRIMARY KEY (user_id, district_id)
);
CREATE TABLE user_elders (
    user_id  bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    elder_id bigint NOT NULL REFERENCES elders ON DELETE CASCADE,
    PRIMARY KEY (user_id, elder_id)
);

-- Opaque bearer tokens, stored as SHA-256 so a leaked table leaks no session.
CREATE TABLE api_tokens (
    token_hash bytea PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);

-- People who are called. Community workers serve a community, supervisors a district,
-- family members one elder (with relation and priority: 1 is called first).
CREATE TABLE contacts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('community_worker', 'family', 'supervisor')),
    name         text NOT NULL,
    phone        text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    locale       text NOT NULL DEFAULT 'zh-CN' CHECK (locale IN ('zh-CN', 'en')),
    user_id      bigint REFERENCES users ON DELETE SET NULL,
    elder_id     bigint REFERENCES elders ON DELETE CASCADE,
    community_id bigint REFERENCES communities,
    district_id  bigint REFERENCES districts,
    relation     text NOT NULL DEFAULT '',
    priority     integer NOT NULL DEFAULT 1 CHECK (priority BETWEEN 1 AND 99),
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'family') = (elder_id IS NOT NULL)),
    CHECK ((kind = 'community_worker') = (community_id IS NOT NULL)),
    CHECK ((kind = 'supervisor') = (district_id IS NOT NULL))
);
CREATE INDEX contacts_elder ON contacts (elder_id);
CREATE INDEX contacts_community ON contacts (community_id);
CREATE INDEX contacts_district ON contacts (district_id);

-- Ordered levels (who, by which channels, for how long); a district default per
-- severity, and per-elder overrides. Levels are validated by the application.
CREATE TABLE escalation_policies (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name              text NOT NULL,
    severity          text NOT NULL CHECK (severity IN ('critical', 'warning', 'maintenance')),
    district_id       bigint REFERENCES districts,
    elder_id          bigint REFERENCES elders ON DELETE CASCADE,
    levels            jsonb NOT NULL,
    repeat_interval_s integer NOT NULL DEFAULT 600 CHECK (repeat_interval_s >= 60),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK ((district_id IS NULL) <> (elder_id IS NULL))
);
CREATE UNIQUE INDEX escalation_policies_district
    ON escalation_policies (district_id, severity) WHERE elder_id IS NULL;
CREATE UNIQUE INDEX escalation_policies_elder
    ON escalation_policies (elder_id, severity) WHERE district_id IS NULL;

-- An installer proves a device works: open a check, make the device send a self-test
-- (a press, for buttons), and the device is commissioned.
CREATE TABLE installation_checks (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id   text NOT NULL REFERENCES devices,
    opened_by   bigint NOT NULL REFERENCES users,
    opened_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    passed_at   timestamptz
);
CREATE INDEX installation_checks_device ON installation_checks (device_id, opened_at DESC);

CREATE TABLE audit_log (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    user_id   bigint REFERENCES users ON DELETE SET NULL,
    actor     text NOT NULL,                  -- username, or "cli:<os user>" / "system"
    action    text NOT NULL,                  -- e.g. device.register
    entity    text NOT NULL,
    entity_id text NOT NULL,
    detail    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at DESC);
CREATE INDEX audit_log_entity ON audit_log (entity, entity_id);
