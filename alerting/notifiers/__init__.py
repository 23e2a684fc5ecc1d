"""Notification channels behind one seam, `base.Notifier.send`: Twilio SMS and voice,
Alibaba Cloud SMS, app push and webhooks. Import the module you need; this package
imports nothing so that `alerting.templates` can use `base` without a cycle."""
