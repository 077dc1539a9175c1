"""The OS's identity for one user: its name, its voice, what it learned at the first meeting.

A plain value. `onboarding_step` is the first-meeting state machine's position
(see os1.persona.onboarding); `answers` holds what the user told it there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ONBOARDED = "done"


@dataclass(frozen=True, slots=True)
class Identity:
    os_name: str | None = None
    voice: str | None = None
    user_name: str | None = None
    onboarding_step: str = "start"
    answers: dict[str, str] = field(default_factory=dict)

    @property
    def onboarded(self) -> bool:
        return self.onboarding_step == ONBOARDED
