-- One bad row never stops the work for everyone else (safety invariant 3).
--
-- 1. A signal whose evaluation fails is no longer marked processed: it keeps its last
--    error, counts its attempts and waits until retry_at before the engine tries it
--    again, so it neither blocks the rows behind it nor is given up on.
--    Rows that earlier versions parked (processed_at set, error kept) stay as they are.
ALTER TABLE alert_outbox
    ADD COLUMN attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN retry_at timestamptz;

-- 2. Time zones are validated where they enter (API and CLI); rows stored before that
--    with a zone the server does not know ("Asia/Beijing", a typo, another case) are
--    repaired here: a district to Asia/Shanghai, an elder to their district's zone.
--    Every repair leaves an audit row with the old and the new value. A server without
--    a zone database (pg_timezone_names without Asia/Shanghai) repairs nothing.
WITH known AS (SELECT name FROM pg_timezone_names),
bad AS (
    SELECT id, timezone FROM districts
    WHERE timezone NOT IN (SELECT name FROM known)
      AND EXISTS (SELECT 1 FROM known WHERE name = 'Asia/Shanghai')
),
repaired AS (
    UPDATE districts d SET timezone = 'Asia/Shanghai' FROM bad WHERE d.id = bad.id
    RETURNING d.id, bad.timezone AS old, d.timezone AS new
)
INSERT INTO audit_log (actor, action, entity, entity_id, detail)
SELECT 'system', 'district.timezone_repair', 'district', id::text,
       jsonb_build_object('from', old, 'to', new,
                          'reason', 'unknown time zone, repaired by migration 0007')
FROM repaired;

WITH known AS (SELECT name FROM pg_timezone_names),
bad AS (
    SELECT e.id, e.timezone AS old, di.timezone AS district_zone
    FROM elders e
    JOIN communities c ON c.id = e.community_id
    JOIN districts di ON di.id = c.district_id
    WHERE e.timezone NOT IN (SELECT name FROM known)
      AND EXISTS (SELECT 1 FROM known WHERE name = 'Asia/Shanghai')
),
repaired AS (
    UPDATE elders e SET timezone = bad.district_zone FROM bad WHERE e.id = bad.id
    RETURNING e.id, bad.old, e.timezone AS new
)
INSERT INTO audit_log (actor, action, entity, entity_id, detail)
SELECT 'system', 'elder.timezone_repair', 'elder', id::text,
       jsonb_build_object('from', old, 'to', new,
                          'reason', 'unknown time zone, repaired by migration 0007')
FROM repaired;
