"""Bodies of /api/payments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_dump, post_load, validate

from services.payments.domain import PaymentStatus, Unpayable
from shared.events.fields import utf8_text
from shared.web import RequestSchema


class RequiredText(fields.String):
    """A string that is not blank; every problem gets the one given message."""

    def __init__(self, message: str, **kwargs: Any) -> None:
        messages: dict[str, Any] = {"required": message, "null": message, "invalid": message}
        # The OpenAPI document: at least one character that is not white space.
        docs = {"pattern": r"\S", "description": "Trimmed; not blank"}
        super().__init__(required=True, error_messages=messages, metadata=docs, **kwargs)
        self.message = message

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = str(super()._deserialize(value, attr, data, **kwargs)).strip()
        if not text:
            raise ValidationError(self.message)
        try:
            utf8_text(text)  # "\ud800" in JSON: neither BSON nor Stripe's client takes it
        except ValidationError:
            raise ValidationError(self.message) from None
        return text


@dataclass(frozen=True)
class PayForOrder:
    """The buyer's request to pay for their order."""

    order_id: str
    # A ConfirmationToken (ctoken_...), a PaymentMethod id (pm_card_visa) or a legacy card
    # token (tok_visa).
    token: str
    # Where a 3-D Secure redirect brings the buyer back (the client's page).
    return_url: str | None = None


@dataclass(frozen=True)
class ConfirmPayment:
    """The buyer is back from their 3-D Secure challenge: finish paying for the order."""

    order_id: str


@dataclass(frozen=True)
class PaymentsOfOrder:
    order_id: str


class CreatePaymentIn(RequestSchema):
    order_id = RequiredText("Order id must be provided", data_key="orderId")
    token = RequiredText("Token must be provided")
    return_url = fields.Url(
        data_key="returnUrl",
        schemes={"http", "https"},
        require_tld=False,
        validate=validate.Length(max=2048),
        error_messages={"invalid": "Return URL must be an http or https URL"},
        metadata={
            "description": "Where the buyer's browser comes back after a 3-D Secure "
            "challenge it is redirected to (needed for a card that asks for one, unless "
            "token is a ConfirmationToken: then Stripe.js shows the challenge)"
        },
    )

    @post_load
    def _command(self, data: dict[str, Any], **kwargs: Any) -> PayForOrder:
        return PayForOrder(**data)


class ConfirmPaymentIn(RequestSchema):
    order_id = RequiredText("Order id must be provided", data_key="orderId")

    @post_load
    def _command(self, data: dict[str, Any], **kwargs: Any) -> ConfirmPayment:
        return ConfirmPayment(**data)


class PaymentOut(Schema):
    id = fields.String(required=True)


class NextActionOut(Schema):
    type = fields.String(
        required=True,
        validate=validate.OneOf(["redirect_to_url", "use_stripe_sdk"]),
        metadata={
            "description": "redirect_to_url: send the browser to redirectUrl; "
            "use_stripe_sdk: call stripe.handleNextAction({clientSecret})"
        },
    )
    redirect_url = fields.String(
        data_key="redirectUrl",
        metadata={"description": "the challenge, for redirect_to_url"},
    )

    @post_dump
    def _without_empty_url(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if data.get("redirectUrl") is None:
            data.pop("redirectUrl", None)
        return data


class ActionRequiredOut(Schema):
    """Nothing is taken yet: the card asks for 3-D Secure and the buyer must pass it."""

    status = fields.Constant("requires_action", required=True)
    order_id = fields.String(data_key="orderId", required=True)
    client_secret = fields.String(
        data_key="clientSecret",
        required=True,
        metadata={"description": "the PaymentIntent's, for stripe.handleNextAction"},
    )
    next_action = fields.Nested(NextActionOut, data_key="nextAction", required=True)


class PaymentsQueryIn(RequestSchema):
    order_id = RequiredText("Order id must be provided", data_key="orderId")

    @post_load
    def _query(self, data: dict[str, Any], **kwargs: Any) -> PaymentsOfOrder:
        return PaymentsOfOrder(**data)


class PaymentRecordOut(Schema):
    """A payment taken for an order: kept, being given back, or given back, and why."""

    # required: in the OpenAPI document, every answer has these (dumping ignores it).
    id = fields.String(required=True)
    order_id = fields.String(data_key="orderId", required=True)
    stripe_id = fields.String(data_key="stripeId", required=True)
    status = fields.Enum(
        PaymentStatus,
        by_value=True,
        required=True,
        metadata={
            "description": "refunding: the money is going back and Stripe has not confirmed "
            "the refund yet (it is asked again until it does)"
        },
    )
    refund_reason = fields.Enum(
        Unpayable,
        by_value=True,
        allow_none=True,
        data_key="refundReason",
        metadata={"description": "why the money goes back; absent for a kept payment"},
    )

    @post_dump
    def _without_empty_reason(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if data.get("refundReason") is None:
            data.pop("refundReason", None)
        return data


class StripeEventIn(RequestSchema):
    """The webhook's body as documented; the Stripe SDK, not this schema, verifies and reads it."""

    id = fields.String(required=True)
    type = fields.String(required=True)
    data = fields.Dict(
        required=True, metadata={"description": "`object`: the PaymentIntent the event is about"}
    )


class WebhookReceivedOut(Schema):
    received = fields.Boolean(required=True)
