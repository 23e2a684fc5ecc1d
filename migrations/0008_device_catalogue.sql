-- Devices as they are really deployed (device catalogue, carrier platforms).
--
-- 1. A device behind a carrier IoT platform (CTWing, OneNET, Huawei IoTDA) is known to
--    that platform by its own id (and, for NB-IoT modules, an IMEI), not by MQTT: the
--    registry keeps both next to the device id, each unique per platform, so a push is
--    attributed to exactly one device.
-- 2. `mitigations` lists the catalogue quirks (core/catalog) the installer has dealt
--    with for this device, e.g. the Zigbee2MQTT converter that reads a Heiman gas
--    detector's alarm bit; a quirk not listed is a warning at registration.
ALTER TABLE devices
    ADD COLUMN platform           text CHECK (platform IN ('ctwing', 'onenet', 'iotda')),
    ADD COLUMN platform_device_id text CHECK (platform_device_id ~ '^[A-Za-z0-9_.:@-]{1,128}$'),
    ADD COLUMN imei               text CHECK (imei ~ '^[0-9]{15}$'),
    ADD COLUMN mitigations        text[] NOT NULL DEFAULT '{}',
    ADD CONSTRAINT devices_platform_identity
        CHECK ((platform IS NULL) = (platform_device_id IS NULL AND imei IS NULL)),
    ADD CONSTRAINT devices_platform_device_unique UNIQUE (platform, platform_device_id),
    ADD CONSTRAINT devices_platform_imei_unique UNIQUE (platform, imei);
