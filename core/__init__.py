"""Shared foundation every component uses: settings, database access, logging, domain types.

Nothing here knows about MQTT, alerts or HTTP; those folders import from here, never
the other way round.
"""
