from services.auth.domain import hash_password, normalize_email, password_matches


def test_the_same_password_hashes_differently_each_time() -> None:
    assert hash_password("password") != hash_password("password")


def test_a_hash_matches_its_password_and_nothing_else() -> None:
    stored = hash_password("password")

    assert password_matches("password", stored)
    assert not password_matches("Password", stored)
    assert not password_matches("password ", stored)


def test_a_corrupt_stored_hash_never_matches() -> None:
    for stored in ["", "nodot", "zz.zz", ".", "abc.def"]:
        assert not password_matches("password", stored)


def test_emails_are_compared_lowercased_and_trimmed() -> None:
    assert normalize_email("  Test@Example.COM ") == "test@example.com"
