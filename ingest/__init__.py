"""MQTT ingest: subscribe, decode (native and adapters), validate, quarantine, batch-write."""
