import pytest

from services.auth import service
from services.auth.adapters.passwords import PasswordHasher
from services.auth.adapters.revocations import InMemoryRevocationLog
from services.auth.adapters.users import InMemoryUserRepository
from services.auth.config import HashingSettings
from services.auth.domain import EmailInUse, InvalidCredentials
from services.auth.tests.hashing import HashProbe, legacy_hash
from shared.auth import TokenSigner, TokenVerifier

PASSWORD = "correct horse"


@pytest.fixture
def probe() -> HashProbe:
    return HashProbe()


@pytest.fixture
def deps(jwt_keys: tuple[str, str], probe: HashProbe) -> service.Deps:
    return service.Deps(
        users=InMemoryUserRepository(),
        signer=TokenSigner(jwt_keys[0], ttl_s=60),
        revocations=InMemoryRevocationLog(),
        hasher=PasswordHasher(HashingSettings(scrypt_log2_n=14), around_hash=probe),
    )


async def test_sign_up_returns_a_token_naming_the_new_user(
    deps: service.Deps, jwt_keys: tuple[str, str]
) -> None:
    result = await service.sign_up("A@B.io", PASSWORD, deps=deps)

    claims = TokenVerifier(jwt_keys[1]).verify(result.token)
    assert claims is not None
    assert (claims.id, claims.email) == (result.user.id, "a@b.io")
    assert claims.exp - claims.iat == 60


async def test_signing_up_twice_with_one_email_is_refused(deps: service.Deps) -> None:
    await service.sign_up("a@b.io", PASSWORD, deps=deps)

    with pytest.raises(EmailInUse):
        await service.sign_up("A@b.io", "other", deps=deps)


async def test_sign_in_accepts_the_right_password_only(deps: service.Deps) -> None:
    created = await service.sign_up("a@b.io", PASSWORD, deps=deps)

    signed_in = await service.sign_in("a@b.io", PASSWORD, deps=deps)

    assert signed_in.user == created.user
    with pytest.raises(InvalidCredentials):
        await service.sign_in("a@b.io", "wrong", deps=deps)
    with pytest.raises(InvalidCredentials):
        await service.sign_in("nobody@b.io", PASSWORD, deps=deps)


async def test_signing_in_with_a_legacy_hash_stores_one_at_the_current_cost(
    deps: service.Deps,
) -> None:
    users = deps.users
    assert isinstance(users, InMemoryUserRepository)
    created = await users.add("old@b.io", legacy_hash("abcd"))

    signed_in = await service.sign_in("old@b.io", "abcd", deps=deps)

    assert signed_in.user == created
    stored = users.users["old@b.io"].password_hash
    assert stored.startswith("scrypt$14$8$1$")
    assert (await deps.hasher.check("abcd", stored)).matches


async def test_a_wrong_password_upgrades_nothing(deps: service.Deps) -> None:
    users = deps.users
    assert isinstance(users, InMemoryUserRepository)
    old = legacy_hash("abcd")
    await users.add("old@b.io", old)

    with pytest.raises(InvalidCredentials):
        await service.sign_in("old@b.io", "abcde", deps=deps)

    assert users.users["old@b.io"].password_hash == old


async def test_a_password_longer_than_128_characters_is_refused_without_hashing(
    deps: service.Deps, probe: HashProbe
) -> None:
    await service.sign_up("a@b.io", PASSWORD, deps=deps)
    hashed = probe.ran

    with pytest.raises(InvalidCredentials):
        await service.sign_in("a@b.io", "x" * 129, deps=deps)

    assert probe.ran == hashed
