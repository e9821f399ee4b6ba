"""The reminder service: one tick plans what is due into the outbox and dispatches it.

Its parts come ready from workflow.bootstrap (`reminder_service`): the service context, the
settings of `[reminders]`, the notifier of `[notifier]` and the Message-ID domain. It reads cases
through the case read model and writes only the outbox (the `Outbox` port) and the planner's
next action days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workflow.adapters.clock import utcnow
from workflow.adapters.logs import bind_command, get_logger
from workflow.domain.errors import ConfigError, Said
from workflow.messages import text
from workflow.service_layer.context import ServiceContext
from workflow.service_layer.reminders.dispatcher import dispatch_once
from workflow.service_layer.reminders.planner import DEFAULT_BASE_URL, Planner
from workflow.service_layer.reminders.settings import ReminderSettings
from workflow.service_layer.reminders.work import write_back

if TYPE_CHECKING:
    from notifiers import Notifier
    from workflow.service_layer.witness.settings import WitnessSettings

log = get_logger("passend.reminders")


def unreachable(engine: ServiceContext, settings: ReminderSettings) -> list[tuple[str, str, tuple[str, ...]]]:
    """(school, "reminders" | "escalations", roles) for every school whose messages of that kind
    have nobody to go to: no active user of those roles with an e-mail address serves the school.

    The planner plans a message only for those users (`UserDirectory.recipients`, the store's
    users table), so such a school's deadlines would pass in silence. That is a gap in who is set
    up (config.toml, `passend user add --email`, a disabled user); the service says so whenever it
    starts (and `passend reminders due` lists it), rather than refusing to run for the other schools.
    """
    escalates = any(dl.escalate_after is not None for d in engine.registry.all() for dl in d.deadlines)
    wanted = [("reminders", settings.remind_roles)]
    if escalates:
        wanted.append(("escalations", settings.escalate_roles))
    recipients = engine.users.recipients()
    out = []
    for school in engine.config.schools:
        for what, roles in wanted:
            if not recipients.of(roles, school):
                out.append((school, what, roles))
    return out


def retry_failed(ctx: ServiceContext, ids: list[int] | None, *, actor: str) -> int:
    """Put failed messages (all, or exactly `ids`) back in the queue, as `actor`: an active
    user of a role that may write (exit 2 unknown, 3 refused). Each row records who retried it
    and when (`retried_by`, `retried_at`), and the log says it too."""
    from workflow.domain.errors import Refused

    user = ctx.user(actor)
    if user.role in ctx.definition.read_only_roles:
        raise Refused(text("svc.reminders.read_only", user=actor, role=user.role))
    bind_command(command="reminders.retry", actor=actor)
    n = ctx.store.outbox.retry_failed(ctx.clock(), ids, actor=actor)
    log.info("reminders.retried", count=n, ids=ids or "all")
    return n


@dataclass
class ReminderService:
    """Plan and dispatch, as one tick. `now` decides what is due; outbox times use the real clock."""

    engine: ServiceContext
    settings: ReminderSettings
    notifier: Notifier
    now: Callable[[], dt.datetime] = utcnow
    real_clock: Callable[[], dt.datetime] = utcnow
    mail_domain: str = "localhost"  # of every Message-ID: the sender's (`[notifier] from`)
    witness: WitnessSettings | None = None  # `[witness]`: the daily root and its mails (None: off)
    base_url: str = DEFAULT_BASE_URL  # the web app's address (`[web] base_url`): messages link to it
    default_sender: str | None = None  # `[notifier] from`; a school's own `from` goes first

    def planner(self) -> Planner:
        return Planner(self.engine, self.settings, self.mail_domain, self.base_url, self.default_sender)

    def start(self) -> int:
        """What a service does before its first tick: check the notifier as far as it can be
        checked without sending (a password variable that is not set, a login over `none`: exit
        2 now, instead of a failed attempt on every message), then `recover`."""
        from notifiers import NotifierConfigError

        try:
            self.notifier.check()
        except NotifierConfigError as exc:
            # The notifiers stand alone: they say a notify.* key and its values, the catalog words them.
            raise ConfigError(text("svc.reminders.notifier_config", config=self.engine.config.path.name,
                                   problem=Said(exc.key, **exc.values))) from None
        return self.recover()

    def recover(self) -> int:
        """Release the claims an earlier run of this service on this machine left when it died
        (their process is gone), so their messages go out now, not after the lease. Called
        when the service starts (`passend serve`, `passend reminders dispatch`)."""
        from workflow.adapters.host import process_gone, this_host

        n = self.engine.store.outbox.release_orphans(this_host(), lambda pid: not process_gone(pid))
        if n:
            log.info("reminders.claims_released", count=n, host=this_host())
        return n

    def plan(self) -> int:
        """Plan what is due, one chunk of cases at a time: render and store the chunk's messages,
        then write back its cases' next action days, then drop them. A tick that dies between
        chunks has planned the chunks it stored; the rest are still due at the next tick."""
        outbox = self.engine.store.outbox
        planner = self.planner()
        n = 0
        for work in planner.work_chunks(self.now()):
            # A digest lists every overdue case of its schools: at 1M cases one message is
            # megabytes, so digests are rendered (streaming their lines from disk) and stored
            # one at a time.
            step = 1 if any(i.kind == "digest" for i in work.items) else len(work.items) or 1
            for k in range(0, len(work.items), step):
                items = work.items[k:k + step]
                real = self.real_clock()
                have = outbox.existing_keys([i.key for i in items])
                rows = [planner.render(i, real) for i in items if i.key not in have]
                n += outbox.insert_new(rows, real)
                del rows
            # Only once the rows are stored: a tick that dies before leaves the cases to the next one.
            write_back(self.engine.store, work.marks)
            if work.lines is not None:  # the digests' lines on disk, no longer needed
                work.lines.close()
            del work
        if n:
            log.info("reminders.planned", count=n)
        return n

    def dispatch(self) -> dict[str, int]:
        return dispatch_once(self.engine.store.outbox, self.notifier, self.settings, self.real_clock).as_dict()

    def clear_sent(self) -> int:
        """Clear the texts of messages sent more than keep_sent_days ago (Outbox.clear_sent_bodies)."""
        before = self.real_clock() - dt.timedelta(days=self.settings.keep_sent_days)
        n = self.engine.store.outbox.clear_sent_bodies(before=before)
        if n:
            log.info("reminders.bodies_cleared", count=n, keep_sent_days=self.settings.keep_sent_days)
        return n

    def witness_step(self) -> int:
        """The day's witness root when due, and its mails into the outbox (service_layer.witness.roots)."""
        from workflow.service_layer.witness.roots import witness_tick

        assert self.witness is not None
        return witness_tick(self.engine, self.engine.store.outbox, self.witness, self.now(), self.real_clock,
                            self.mail_domain)

    def tick(self, *, plan: bool = True) -> dict[str, int]:
        """Plan, witness (when `[witness]` is configured: its result is `witness`, the witness mails
        planned), dispatch, clear old texts."""
        bind_command(command="reminders.tick")  # nothing of an earlier command leaks into these logs
        planned = self.plan() if plan else 0
        witnessed = {"witness": self.witness_step()} if self.witness is not None and plan else {}
        return {"planned": planned, **witnessed, **self.dispatch(), "cleared": self.clear_sent()}

