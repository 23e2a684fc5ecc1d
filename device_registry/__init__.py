"""Elders, homes, devices, contacts, escalation policies, MQTT credentials, installation checks."""
