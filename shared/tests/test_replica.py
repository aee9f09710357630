"""The one replica version rule: next applies, seen is a duplicate, early waits."""

import pytest

from shared.replica import VersionStep, step


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
