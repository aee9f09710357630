"""The one version rule for a replica: which of another service's versions to apply.

A replica holds version ``v`` of an entity it copies. An event carrying ``v + 1`` is the
next one and applies; one carrying ``v`` or less was applied already (a duplicate); one
carrying more than ``v + 1`` is early: a version in between has not arrived yet, so it
waits (is retried later) instead of skipping that version's change. No I/O here.
"""

from __future__ import annotations

from enum import Enum


class VersionStep(Enum):
    """How an incoming version relates to the one a replica holds."""

    NEXT = "next"  # the very next version: apply it
    SEEN = "seen"  # this version or a later one is applied already: a duplicate
    EARLY = "early"  # a version in between has not arrived yet: wait for it


def step(held: int | None, incoming: int) -> VersionStep:
    """Where ``incoming`` stands against ``held``; ``None`` (no replica yet) makes it early."""
    if held is None or incoming > held + 1:
        return VersionStep.EARLY
    if incoming == held + 1:
        return VersionStep.NEXT
    return VersionStep.SEEN
