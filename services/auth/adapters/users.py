"""Where users are kept: ``MongoUserRepository`` and its in-memory twin, both
``ports.UserRepository`` (and both held to one contract, tests/contract)."""

from __future__ import annotations

from dataclasses import replace

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from services.auth.domain import EmailInUse, User
from shared.mongo import Database, Document


async def create_indexes(db: Database) -> None:
    # The unique index is the guard: two racing signups cannot both insert.
    await db.users.create_index("email", unique=True, name="email_unique")


def _from_doc(doc: Document) -> User:
    return User(id=str(doc["_id"]), email=doc["email"], password_hash=doc["password"])


class MongoUserRepository:
    def __init__(self, db: Database) -> None:
        self._users = db.users

    async def add(self, email: str, password_hash: str) -> User:
        doc = {"_id": ObjectId(), "email": email, "password": password_hash}
        try:
            await self._users.insert_one(doc)
        except DuplicateKeyError:
            raise EmailInUse() from None
        return _from_doc(doc)

    async def by_email(self, email: str) -> User | None:
        doc = await self._users.find_one({"email": email})
        return _from_doc(doc) if doc else None

    async def replace_password_hash(self, user_id: str, old: str, new: str) -> None:
        # Matching on the hash we checked: a racing sign-in that upgraded first wins.
        await self._users.update_one(
            {"_id": ObjectId(user_id), "password": old}, {"$set": {"password": new}}
        )


class InMemoryUserRepository:
    def __init__(self) -> None:
        self.users: dict[str, User] = {}

    async def add(self, email: str, password_hash: str) -> User:
        if email in self.users:
            raise EmailInUse()
        user = User(id=str(ObjectId()), email=email, password_hash=password_hash)
        self.users[email] = user
        return user

    async def by_email(self, email: str) -> User | None:
        return self.users.get(email)

    async def replace_password_hash(self, user_id: str, old: str, new: str) -> None:
        user = next((u for u in self.users.values() if u.id == user_id), None)
        if user is not None and user.password_hash == old:
            self.users[user.email] = replace(user, password_hash=new)
