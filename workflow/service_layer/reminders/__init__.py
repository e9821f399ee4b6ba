"""The reminder service: plan what is due into the outbox, then dispatch it through a notifier.

- `settings`: the `[reminders]` section of config.toml (read by workflow.bootstrap).
- `work`: which cases a tick must fold (the planner's next action days) and its write-back.
- `planner`: which reminders, escalations and digests are due at a moment (reads cases).
- `digest`: a digest's lines on disk while a tick reads every open case.
- `messages`, `ics`: the Dutch mail text (Jinja2 templates in notifiers/templates) and .ics.
- `dispatcher`: claim, send, mark, through the `Outbox` port; retries with backoff.
- `service`: one tick (plan, dispatch, clear old texts); `passend serve` runs it on a schedule
  (workflow.entrypoints.serve), and workflow.bootstrap wires it.

Nothing here changes a case: the service only reads events and writes the outbox and the
planner's next action days.
"""
