"""The ports' values that a read of one case needs at run time, apart from the ports' module.

`workflow.adapters.ports` declares some sixty protocols, named tuples and dataclasses; building
them costs a `case show` more instructions than its own work (issue 17, BENCHMARKS.md 8b again),
and it needs only these two. `ports` re-exports them: that stays the place to import them from,
except on the driver-only read's path (store.direct, store.rows, projection).
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from workflow.adapters.config import User

# Any write may change a case's deadlines, so it hands the case back to the reminder planner:
# next_action_on = LOOK_NOW ("plan it at the next tick"), planned_on = NULL. The planner folds it
# once, plans what is due and stores the real date (workflow.service_layer.reminders.work).
# Computing the date in the store would need the school calendar, which is configuration.
LOOK_NOW = dt.date(1970, 1, 1)


class Acting(NamedTuple):
    """The acting user as the hot read finds them, and whether they may act at all."""

    user: User
    active: bool
