"""The one replica version rule: next applies, seen is a duplicate, early waits."""

import pytest

from shared.replica import VersionStep, step, takes_snapshot


@pytest.mark.parametrize(
    ("held", "incoming", "expected"),
    [
        (3, 4, VersionStep.NEXT),
        (0, 1, VersionStep.NEXT),
        (3, 3, VersionStep.SEEN),
        (3, 0, VersionStep.SEEN),
        (3, 5, VersionStep.EARLY),
        (None, 0, VersionStep.EARLY),
        (None, 1, VersionStep.EARLY),
    ],
)
def test_an_incoming_version_is_next_seen_or_early(
    held: int | None, incoming: int, expected: VersionStep
) -> None:
    assert step(held, incoming) is expected


@pytest.mark.parametrize(
    ("held", "incoming", "taken"),
    [
        (3, 4, True),  # the next version
        (3, 9, True),  # a jump over versions that never arrived
        (None, 0, True),  # no replica yet: the snapshot starts it
        (None, 7, True),
        (3, 3, False),  # the version held: nothing new
        (3, 1, False),  # older: taking it would undo versions 2 and 3
    ],
)
def test_a_snapshot_is_taken_only_when_newer_than_the_replica(
    held: int | None, incoming: int, taken: bool
) -> None:
    assert takes_snapshot(held, incoming) is taken
