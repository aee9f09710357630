"""Request and response bodies for /api/users."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from shared.web import RequestSchema

EMAIL_MESSAGE = "Email must be valid"
PASSWORD_LENGTH_MESSAGE = "Password must be between 4 and 20 characters"
PASSWORD_REQUIRED_MESSAGE = "You must supply a password"


class TrimmedString(fields.String):
    """A string with surrounding whitespace removed before validation (as the original)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return str(super()._deserialize(value, attr, data, **kwargs)).strip()


def _email() -> fields.Email:
    messages: dict[str, Any] = {
        "required": EMAIL_MESSAGE,
        "invalid": EMAIL_MESSAGE,
        "null": EMAIL_MESSAGE,
    }
    return fields.Email(
        required=True,
        error_messages=messages,
        validate=validate.Length(max=254, error=EMAIL_MESSAGE),
    )


def _password(message: str, length: validate.Length) -> TrimmedString:
    messages: dict[str, Any] = {"required": message, "invalid": message, "null": message}
    return TrimmedString(required=True, error_messages=messages, validate=length)


class SignUpIn(RequestSchema):
    email = _email()
    password = _password(
        PASSWORD_LENGTH_MESSAGE, validate.Length(min=4, max=20, error=PASSWORD_LENGTH_MESSAGE)
    )


class SignInIn(RequestSchema):
    email = _email()
    # No upper bound here: a long wrong password is simply wrong credentials.
    password = _password(
        PASSWORD_REQUIRED_MESSAGE, validate.Length(min=1, max=1024, error=PASSWORD_REQUIRED_MESSAGE)
    )


class UserOut(Schema):
    id = fields.String()
    email = fields.String()


class CurrentUserOut(Schema):
    id = fields.String()
    email = fields.String()
    iat = fields.Integer(metadata={"description": "When the token was issued (Unix seconds)"})
    exp = fields.Integer(metadata={"description": "When the token expires (Unix seconds)"})


class CurrentUserEnvelopeOut(Schema):
    """``{"currentUser": {...}}``, or ``{"currentUser": null}`` when signed out."""

    currentUser = fields.Nested(CurrentUserOut, allow_none=True)


class EmptyOut(Schema):
    """``{}``: the original's answer where there is nothing to say."""
