"""Schemathesis against a service's own OpenAPI document, the app serving on a real port.

Each operation of the document gets requests that fit it (positive) and requests that do
not (negative), signed in with the cookie given, and every response is checked by
``CHECKS``. Bounded and derandomized so the suite stays quick and repeatable.

The requests are synchronous (``requests``), so ``fuzz`` runs in a thread of its own while
the test's event loop serves the app: ``await asyncio.to_thread(fuzz, ...)``.
"""

from __future__ import annotations

from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode, checks
from schemathesis.checks import CheckFunction
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err

# The checks that apply to one request and its response. Left out, as they need a
# stateful run with links between operations (which the documents do not declare) or
# assume every valid request succeeds: use_after_free, ensure_resource_availability,
# object_level_authorization, positive_data_acceptance (a valid body can still be
# refused by the state: a ticket that does not exist is 404, a reserved one 400).
CHECKS: tuple[CheckFunction, ...] = (
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
    checks.negative_data_rejection,
    checks.ignored_auth,
)
# A request that breaks the document may be refused with any of these. 413 is not among
# schemathesis's defaults, but it is how base_app refuses a body over max_body_bytes.
NEGATIVE_DATA_REJECTIONS = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429, "5xx"]
MAX_EXAMPLES = 50  # per operation and generation mode
REQUEST_TIMEOUT_S = 10.0


def fuzz(
    document: dict[str, Any],
    base_url: str,
    cookies: dict[str, str],
    path_parameters: dict[str, str] | None = None,
) -> list[str]:
    """Every failing check, as ``"METHOD /path (mode): what failed"``; empty when none did.

    ``path_parameters`` name things that exist (``{"id": <the signed-in user's ticket>}``):
    positive cases use them, so that the handlers past the 404 run too; negative cases
    make up their own.
    """
    config = schemathesis.Config.from_dict(
        {"checks": {"negative_data_rejection": {"expected-statuses": NEGATIVE_DATA_REJECTIONS}}}
    )
    schema = schemathesis.openapi.from_dict(document, config=config)
    failures: list[str] = []
    with requests.Session() as session:
        session.trust_env = False  # straight to the local app, whatever *_PROXY says
        for result in schema.get_all_operations():
            if isinstance(result, Err):
                failures.append(f"the document has an invalid operation: {result.err()}")
                continue
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                # The cookie goes in through the strategy, so a negative case that drops
                # it knows it did (and expects the 401).
                cases = operation.as_strategy(
                    mode,
                    cookies=cookies,
                    path_parameters=path_parameters if mode.is_positive else None,
                )
                failure = _fuzz_one(cases, session, base_url)
                if failure is not None:
                    failures.append(f"{operation.label} ({mode.value}): {failure}")
    return failures


def _fuzz_one(
    cases: st.SearchStrategy[Case[Any]],
    session: requests.Session,
    base_url: str,
) -> str | None:
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def check(case: Case[Any]) -> None:
        response = case.call(base_url=base_url, session=session, timeout=REQUEST_TIMEOUT_S)
        case.validate_response(response, checks=list(CHECKS))

    try:
        check()
    except Unsatisfiable:
        # Nothing of this mode to make: no parameter or body that could be invalid
        # (GET /api/tickets has none).
        return None
    except (AssertionError, FailureGroup) as failure:  # the smallest case, as shrunk
        return str(failure)
    return None
