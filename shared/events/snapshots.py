"""The contracts of a replica's rebuild: ``snapshot.requested`` and ``snapshot.completed``.

A service rebuilding its replica of another's entities asks the owner to re-publish them
(``snapshot.requested``); the owner publishes one ``ticket.snapshot`` / ``order.snapshot``
per entity through its outbox, then ``snapshot.completed`` with how many it published, so
the requester knows how many to wait for (docs/rebuild.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from marshmallow import fields, post_load, validate

from shared.events.base import ContractSchema, Event
from shared.events.fields import REQUEST_ID

# The entities a snapshot can be asked of, by their owner's contract names.
SNAPSHOT_ENTITIES = ("ticket", "order")
SERVICE_NAME = validate.Regexp(r"\A[a-z][a-z0-9_-]{0,62}\Z", error="Not a service name.")
COUNT = validate.Range(min=0, max=2**63 - 1)


@dataclass(frozen=True)
class SnapshotRequested(Event):
    """``requester`` rebuilds its replica of ``entity``: its owner re-publishes them all."""

    routing_key: ClassVar[str] = "snapshot.requested"
    subject_field: ClassVar[str] = "request_id"

    request_id: str
    entity: str  # "ticket" (the tickets service answers) or "order" (orders answers)
    requester: str  # the service rebuilding, for the logs


@dataclass(frozen=True)
class SnapshotCompleted(Event):
    """The owner of ``entity`` published ``count`` snapshots for request ``request_id``."""

    routing_key: ClassVar[str] = "snapshot.completed"
    subject_field: ClassVar[str] = "request_id"

    request_id: str
    entity: str
    count: int


class SnapshotRequestedSchema(ContractSchema):
    """Wire form ``{requestId, entity, requester}``."""

    request_id = fields.String(required=True, data_key="requestId", validate=REQUEST_ID)
    entity = fields.String(required=True, validate=validate.OneOf(SNAPSHOT_ENTITIES))
    requester = fields.String(required=True, validate=SERVICE_NAME)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> SnapshotRequested:
        return SnapshotRequested(**data)


class SnapshotCompletedSchema(ContractSchema):
    """Wire form ``{requestId, entity, count}``."""

    request_id = fields.String(required=True, data_key="requestId", validate=REQUEST_ID)
    entity = fields.String(required=True, validate=validate.OneOf(SNAPSHOT_ENTITIES))
    count = fields.Integer(required=True, strict=True, validate=COUNT)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> SnapshotCompleted:
        return SnapshotCompleted(**data)
