"""Shared foundation every component uses: settings, database access, logging, domain
types and vocabulary, the NOTIFY channel names and the MQTT client factory.

Nothing here knows about topics, alerts or HTTP routes; those folders import from here,
never the other way round (the layer contract in pyproject.toml checks it).
"""
