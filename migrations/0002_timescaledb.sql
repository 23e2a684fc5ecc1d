-- requires: timescaledb
-- Production storage on TimescaleDB: hypertables with 1-day chunks, compression
-- segmented by device after 7 days, retention for readings (events are kept forever),
-- and an hourly per-device continuous aggregate of readings. Skipped on plain PostgreSQL.

CREATE EXTENSION IF NOT EXISTS timescaledb;

-- Chunk exclusion on ts replaces the BRIN indexes the plain schema relies on.
DROP INDEX readings_ts_brin;
DROP INDEX events_ts_brin;

SELECT create_hypertable('readings', by_range('ts', INTERVAL '1 day'),
                         create_default_indexes => false, migrate_data => true);
SELECT create_hypertable('events', by_range('ts', INTERVAL '1 day'),
                         create_default_indexes => false, migrate_data => true);

ALTER TABLE readings SET (timescaledb.compress,
                          timescaledb.compress_segmentby = 'device_id',
                          timescaledb.compress_orderby = 'ts DESC, msg_id');
ALTER TABLE events SET (timescaledb.compress,
                        timescaledb.compress_segmentby = 'device_id',
                        timescaledb.compress_orderby = 'ts DESC, msg_id');
SELECT add_compression_policy('readings', INTERVAL '7 days');
SELECT add_compression_policy('events', INTERVAL '7 days');

-- The runner sets nuanxin.readings_retention_days from NUANXIN_READINGS_RETENTION_DAYS;
-- `nuanxin migrate` reconciles the policy when the setting changes later.
SELECT add_retention_policy('readings',
       make_interval(days => current_setting('nuanxin.readings_retention_days')::int));

CREATE MATERIALIZED VIEW readings_hourly WITH (timescaledb.continuous) AS
SELECT device_id,
       time_bucket(INTERVAL '1 hour', ts)   AS bucket,
       count(*)                            AS messages,
       count(*) FILTER (WHERE motion)      AS motion_count,
       min(battery)                        AS battery_min,
       max(gas_lel)                        AS gas_lel_max,
       bool_or(smoke)                      AS smoke_any,
       bool_or(gas)                        AS gas_any,
       avg(rssi)::real                     AS rssi_avg
FROM readings
GROUP BY device_id, bucket
WITH NO DATA;

SELECT add_continuous_aggregate_policy('readings_hourly',
       start_offset => INTERVAL '3 days',
       end_offset => INTERVAL '1 hour',
       schedule_interval => INTERVAL '30 minutes');
