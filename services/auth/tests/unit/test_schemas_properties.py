"""Any JSON object sent to sign up or sign in: an email and a password, or a 400.

Written against the schemas' contract, not their rules of the day: the password's
length rule may change, but a body is always either loaded or refused with a 400.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.auth.api.schemas import SignInIn, SignUpIn
from shared.testing.properties import bodies, load_or_400, texts

SCHEMAS = [SignUpIn(), SignInIn()]
LIKELY = {
    "email": st.emails() | st.emails().map(lambda email: f" {email} "),
    "password": texts | st.text(min_size=1, max_size=140),
}


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda schema: type(schema).__name__)
@given(body=bodies({"email", "password"}, LIKELY))
def test_a_body_loads_as_an_email_and_a_password_or_is_a_400(
    schema: SignUpIn | SignInIn, body: dict[str, Any]
) -> None:
    loaded = load_or_400(schema, body)

    if loaded is not None:
        assert set(loaded) == {"email", "password"}
        assert isinstance(loaded["email"], str)
        assert "@" in loaded["email"]
        assert isinstance(loaded["password"], str)
        assert loaded["password"]
