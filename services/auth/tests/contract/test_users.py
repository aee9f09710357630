"""One contract for ``ports.UserRepository``, run against the Mongo adapter (on mongoeco)
and against the in-memory twin the unit tests use."""

from __future__ import annotations

import pytest

from services.auth.adapters.users import (
    InMemoryUserRepository,
    MongoUserRepository,
    create_indexes,
)
from services.auth.domain import EmailInUse
from services.auth.ports import UserRepository
from shared.mongo import Mongo


@pytest.fixture(params=["memory", "mongo"])
def mongo_or_not(request: pytest.FixtureRequest) -> Mongo | None:
    # Asked for here, synchronously: an async fixture cannot ask for another one by name.
    return request.getfixturevalue("mongo") if request.param == "mongo" else None


@pytest.fixture
async def users(mongo_or_not: Mongo | None) -> UserRepository:
    if mongo_or_not is None:
        return InMemoryUserRepository()
    mongo = mongo_or_not
    await create_indexes(mongo.db)
    return MongoUserRepository(mongo.db)


async def test_an_added_user_is_found_by_email(users: UserRepository) -> None:
    user = await users.add("a@b.io", "hash-1")

    assert await users.by_email("a@b.io") == user
    assert (user.email, user.password_hash) == ("a@b.io", "hash-1")
    assert await users.by_email("c@d.io") is None


async def test_an_email_is_taken_once(users: UserRepository) -> None:
    first = await users.add("a@b.io", "hash-1")

    with pytest.raises(EmailInUse):
        await users.add("a@b.io", "hash-2")
    assert await users.by_email("a@b.io") == first


async def test_a_hash_is_replaced_only_while_it_is_the_one_checked(users: UserRepository) -> None:
    user = await users.add("a@b.io", "old")

    await users.replace_password_hash(user.id, "old", "new")
    await users.replace_password_hash(user.id, "old", "newer")  # a racing sign-in, too late

    found = await users.by_email("a@b.io")
    assert found is not None
    assert (found.id, found.password_hash) == (user.id, "new")
