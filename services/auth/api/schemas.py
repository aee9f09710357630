"""Request and response bodies for /api/users. A request body loads as a typed value."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_load, validate

from services.auth.domain import MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS
from services.auth.service import Credentials
from shared.events.fields import utf8_text
from shared.web import RequestSchema

EMAIL_MESSAGE = "Email must be valid"
PASSWORD_LENGTH_MESSAGE = (
    f"Password must be between {MIN_PASSWORD_CHARS} and {MAX_PASSWORD_CHARS} characters"
)
PASSWORD_REQUIRED_MESSAGE = "You must supply a password"


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


def _password(message: str, length: validate.Length) -> fields.String:
    # Never trimmed: spaces are characters of a password like any other (NIST 800-63B).
    messages: dict[str, Any] = {"required": message, "invalid": message, "null": message}
    # utf8_text: JSON's "\ud800" is a lone surrogate that scrypt's input (UTF-8) cannot hold.
    return fields.String(required=True, error_messages=messages, validate=[length, utf8_text])


class CredentialsIn(RequestSchema):
    """Loads as ``Credentials``."""

    @post_load
    def _credentials(self, data: dict[str, Any], **_: Any) -> Credentials:
        return Credentials(email=data["email"], password=data["password"])


class SignUpIn(CredentialsIn):
    email = _email()
    # Length is len(str): Unicode code points, not bytes.
    password = _password(
        PASSWORD_LENGTH_MESSAGE,
        validate.Length(
            min=MIN_PASSWORD_CHARS, max=MAX_PASSWORD_CHARS, error=PASSWORD_LENGTH_MESSAGE
        ),
    )


class SignInIn(CredentialsIn):
    email = _email()
    # No minimum beyond one character (accounts from the 4-20 days still sign in) and no
    # maximum: a long password is simply wrong credentials (see service.sign_in).
    password = _password(
        PASSWORD_REQUIRED_MESSAGE, validate.Length(min=1, error=PASSWORD_REQUIRED_MESSAGE)
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
