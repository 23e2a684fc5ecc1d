"""Alert engine: rules, alert lifecycle, escalation policies, scheduler jobs and notifiers."""
