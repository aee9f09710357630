"""Stripe's form encoding, decoded: the SDK sends nested objects as bracketed field names."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from stripe_emulator.errors import Params, invalid_request


def nest(pairs: Iterable[tuple[str, str]]) -> Params:
    """Form fields as the SDK encodes them, back into objects.

    ``metadata[order_id]=o1`` → ``{"metadata": {"order_id": "o1"}}``;
    ``payment_method_types[0]=card`` → ``{"payment_method_types": ["card"]}``.
    """
    root: Params = {}
    for key, value in pairs:
        path = re.findall(r"[^\[\]]+", key)
        if not path:
            continue
        node = root
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise invalid_request(f"Invalid object: {key}", param=path[0])
            node = child
        node[path[-1]] = value
    nested: Params = _as_lists(root)
    return nested


def _as_lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    items = {key: _as_lists(value) for key, value in node.items()}
    if items and all(key.isdigit() for key in items):
        return [items[key] for key in sorted(items, key=int)]
    return items
