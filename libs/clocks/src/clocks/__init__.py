"""Time as every service reckons it (docs/architecture.md, *Schedules*)."""
