"""The reminder service: plan what is due into an outbox, then dispatch it through a notifier.

- `settings`: the `[reminders]` section of config.toml.
- `planner`: which reminders, escalations and digests are due at a moment (reads cases).
- `messages`, `ics`: the Dutch mail text (Jinja2 templates in notifiers/templates) and .ics.
- `outbox`: the table and its claims; correctness against duplicates lives here.
- `dispatcher`: claim, send, mark; retries with backoff.
- `bootstrap`: the one place the notifier is chosen from config.
- `scheduler`: `passend serve` (APScheduler 3, in-memory job store).

Nothing here changes a case: the service only reads events and writes the outbox.
"""
