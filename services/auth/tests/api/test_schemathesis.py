"""Schemathesis against the auth service's OpenAPI document: no 500, and as documented."""

from __future__ import annotations

import asyncio

from services.auth.tests.conftest import Client
from shared.testing.api_fuzz import fuzz
from shared.testing.fixtures import Signin
from shared.testing.openapi import served_document


async def test_generated_requests_get_documented_answers_and_never_a_500(
    client: Client, signin: Signin
) -> None:
    document = await served_document(client, "/api/users/openapi.json")

    failures = await asyncio.to_thread(fuzz, document, str(client.make_url("")), signin())

    assert not failures, "\n\n".join(failures)
