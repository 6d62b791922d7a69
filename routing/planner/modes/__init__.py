"""One module per mode family, each with functions ``(request, context, searches) -> Outcome``."""

from __future__ import annotations

from dataclasses import dataclass, field

from routing.planner.options import Candidate


@dataclass
class Outcome:
    """Candidates of a mode, or none with the reason (shown to the user)."""

    candidates: list[Candidate] = field(default_factory=list)
    reason: str | None = None
