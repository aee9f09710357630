"""The API bodies the client reads (the services' own schemas, seen from outside)."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, post_load

from services.client.domain import (
    ActionRequired,
    Order,
    Payment,
    PaymentRecord,
    PaymentStatus,
    Ticket,
    User,
)
from shared.events import Money, OrderStatus, UtcDateTime


class Reply(Schema):
    """Fields we do not show are ignored, so the APIs may grow without breaking pages."""

    class Meta:
        unknown = EXCLUDE


class UserReply(Reply):
    id = fields.String(required=True)
    email = fields.String(required=True)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> User:
        return User(**data)


class CurrentUserReply(Reply):
    user = fields.Nested(UserReply, data_key="currentUser", required=True, allow_none=True)


class TicketReply(Reply):
    id = fields.String(required=True)
    title = fields.String(required=True)
    price_cents = Money(data_key="price", required=True)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Ticket:
        return Ticket(**data)


class OrderReply(Reply):
    id = fields.String(required=True)
    status = fields.Enum(OrderStatus, by_value=True, required=True)
    expires_at = UtcDateTime(data_key="expiresAt", required=True)
    ticket = fields.Nested(TicketReply, required=True)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Order:
        return Order(**data)


class PaymentReply(Reply):
    id = fields.String(required=True)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Payment:
        return Payment(**data)


class NextActionReply(Reply):
    type = fields.String(required=True)
    # Put into a link on our page: only a web address, never javascript: or the like.
    redirect_url = fields.Url(
        data_key="redirectUrl", schemes={"http", "https"}, require_tld=False, load_default=None
    )


class ActionRequiredReply(Reply):
    """payments' 202 (``status: requires_action``)."""

    client_secret = fields.String(data_key="clientSecret", required=True)
    next_action = fields.Nested(NextActionReply, data_key="nextAction", required=True)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> ActionRequired:
        action = data["next_action"]
        redirect = action["redirect_url"] if action["type"] == "redirect_to_url" else None
        return ActionRequired(data["client_secret"], redirect)


class PaymentRecordReply(Reply):
    id = fields.String(required=True)
    stripe_id = fields.String(data_key="stripeId", required=True)
    # A status the page would not know how to describe is an unexpected body, not "Paid."
    status = fields.Enum(PaymentStatus, by_value=True, required=True)
    refund_reason = fields.String(data_key="refundReason", load_default=None)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> PaymentRecord:
        return PaymentRecord(**data)


class ErrorItemReply(Reply):
    message = fields.String(required=True)
    field = fields.String()


class ErrorsReply(Reply):
    """The platform's one error shape: ``{"errors": [{"message", "field"?}]}``."""

    errors = fields.List(fields.Nested(ErrorItemReply), required=True)
