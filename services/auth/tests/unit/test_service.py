import pytest

from services.auth import service
from services.auth.adapters.revocations import InMemoryRevocationLog
from services.auth.adapters.users import InMemoryUserRepository
from services.auth.domain import EmailInUse, InvalidCredentials
from shared.auth import TokenSigner, TokenVerifier


@pytest.fixture
def deps(jwt_keys: tuple[str, str]) -> service.Deps:
    return service.Deps(
        users=InMemoryUserRepository(),
        signer=TokenSigner(jwt_keys[0], ttl_s=60),
        revocations=InMemoryRevocationLog(),
    )


async def test_sign_up_returns_a_token_naming_the_new_user(
    deps: service.Deps, jwt_keys: tuple[str, str]
) -> None:
    result = await service.sign_up("A@B.io", "secret", deps=deps)

    claims = TokenVerifier(jwt_keys[1]).verify(result.token)
    assert claims is not None
    assert (claims.id, claims.email) == (result.user.id, "a@b.io")
    assert claims.exp - claims.iat == 60


async def test_signing_up_twice_with_one_email_is_refused(deps: service.Deps) -> None:
    await service.sign_up("a@b.io", "secret", deps=deps)

    with pytest.raises(EmailInUse):
        await service.sign_up("A@b.io", "other", deps=deps)


async def test_sign_in_accepts_the_right_password_only(deps: service.Deps) -> None:
    created = await service.sign_up("a@b.io", "secret", deps=deps)

    signed_in = await service.sign_in("a@b.io", "secret", deps=deps)

    assert signed_in.user == created.user
    with pytest.raises(InvalidCredentials):
        await service.sign_in("a@b.io", "wrong", deps=deps)
    with pytest.raises(InvalidCredentials):
        await service.sign_in("nobody@b.io", "secret", deps=deps)
