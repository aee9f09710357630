"""Hypothesis strategies for request bodies, and the one property every request schema keeps.

The property: whatever JSON object a client sends, ``shared.web.load`` gives the loaded
value or raises the 400 ``RequestValidationError``, in the standard error shape and naming
only the schema's own fields. Nothing else (no TypeError, no OverflowError, no
InvalidOperation), because anything else is a 500.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st
from marshmallow import Schema

from shared.errors import RequestValidationError
from shared.web import load

# Text as json.loads can hand it over: any code point, lone surrogates included
# ("\ud800" is a legal JSON escape). Hypothesis leaves surrogates out of text(), and
# drawn among all code points they would be rare, so they are mixed in as pieces.
LONE_SURROGATES = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"])
texts = st.text(max_size=40) | st.lists(
    st.text(max_size=10) | LONE_SURROGATES, min_size=1, max_size=5
).map("".join)

# Strings at and around the edges our rules draw: empty, blank, the length limits,
# ObjectIds and near misses, numbers written as text.
boundary_texts = st.sampled_from(
    [
        "",
        " ",
        "\t\n",
        "\x00",
        "\ud800",
        "a" * 3,
        "a" * 4,
        "a" * 7,
        "a" * 8,
        "a" * 20,
        "a" * 21,
        "a" * 128,
        "a" * 129,
        "a" * 200,
        "a" * 201,
        "a" * 255,
        "a" * 256,
        "x" * 5000,
        "5fd843a29fc5e30023bd790b",
        "5fd843a29fc5e30023bd790",
        "5fd843a29fc5e30023bd790g",
        "5fd843a29fc5e30023bd790b\n",
        " 5fd843a29fc5e30023bd790b ",
        "0",
        "-1",
        "0.49",
        "0.5",
        "100000",
        "100000.01",
        "1e999999999",
        "1_000",
        "NaN",
        "a@b.co",
        "test@test.com",
        " test@test.com ",
        "@",
        "a@",
        "pm_card_visa",
        "tok_visa",
    ]
)

# What json.loads in shared.web.read_json can produce: it accepts NaN and Infinity, and
# reads integers of more than 100 digits as Decimal.
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**100, max_value=10**200).map(Decimal)
    | st.floats()
    | st.sampled_from([0, -0.0, 0.5, 0.49, 100_000, 100_000.01, 1e300, 2**63, -(2**63) - 1])
    | texts
    | boundary_texts
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=8,
)


def bodies(
    keys: Iterable[str], likely: Mapping[str, st.SearchStrategy[Any]] | None = None
) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects with any of ``keys`` (the schema's wire names) and some other keys.

    ``likely`` gives a key values close to valid ones (an email, a price), so that bodies
    the schema takes are drawn too, not only the ones it refuses.
    """
    known = sorted(keys)
    likely = likely or {}
    near = {key: likely.get(key, json_values) for key in known}
    mixed = {key: json_values | near[key] for key in known}
    # Every key often, any subset of them sometimes (a missing field is a case too).
    chosen = st.just(set(known)) | st.sets(st.sampled_from(known))
    ours = st.fixed_dictionaries(near) | chosen.flatmap(
        lambda some: st.fixed_dictionaries({key: mixed[key] for key in some})
    )
    others = st.dictionaries(texts, json_values, max_size=3)
    return st.tuples(ours, others).map(lambda pair: pair[1] | pair[0])


def wire_keys(schema: Schema) -> set[str]:
    """The names a client sends: each field's ``data_key``, else its attribute name."""
    return {field.data_key or name for name, field in schema.fields.items()}


def load_or_400(schema: Schema, body: Mapping[str, Any]) -> dict[str, Any] | None:
    """``body`` loaded by ``schema`` (a typed command as a dict of its fields), or None when
    it is the 400 validation error.

    Any other exception escapes, and fails the calling property test.
    """
    try:
        loaded = load(schema, body)
    except RequestValidationError as error:
        refusal = error
    else:
        command = dataclasses.is_dataclass(loaded) and not isinstance(loaded, type)
        fields: dict[str, Any] = dataclasses.asdict(loaded) if command else loaded
        assert_storable(fields)
        return fields
    assert refusal.status == 400
    items = refusal.items()
    assert items, "a 400 says what is wrong"
    for item in items:
        assert isinstance(item["message"], str)
        assert item["message"]
        assert item.get("field", "").split(".")[0] in wire_keys(schema) | {""}
    return None


def assert_storable(value: object) -> None:
    """Every string UTF-8 can carry and every number finite: what BSON and JSON can hold."""
    if isinstance(value, str):
        value.encode("utf-8")  # UnicodeEncodeError: a lone surrogate got through
    elif isinstance(value, float):
        assert math.isfinite(value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            assert_storable(key)
            assert_storable(item)
    elif isinstance(value, list | tuple):
        for item in value:
            assert_storable(item)
