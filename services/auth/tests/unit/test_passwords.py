import hashlib

import pytest

from services.auth.domain import (
    DEFAULT_COST,
    LEGACY_COST,
    ScryptCost,
    check_password,
    decoy_hash,
    hash_password,
    normalize_email,
)
from services.auth.tests.hashing import legacy_hash

CHEAP = ScryptCost(log2_n=14)


def test_the_default_cost_is_n_2_17_r_8_p_1_and_the_hash_names_it() -> None:
    stored = hash_password("correct horse")

    assert (DEFAULT_COST.n, DEFAULT_COST.r, DEFAULT_COST.p) == (2**17, 8, 1)
    scheme, log2_n, r, p, salt_hex, key_hex = stored.split("$")
    assert (scheme, log2_n, r, p) == ("scrypt", "17", "8", "1")
    assert (len(salt_hex), len(key_hex)) == (32, 128)
    assert check_password("correct horse", stored).matches


def test_one_default_cost_hash_takes_128_mib() -> None:
    assert 128 * 2**20 < DEFAULT_COST.memory_bytes < 129 * 2**20
    with pytest.raises(ValueError):  # what maxmem=memory_bytes allows is exactly enough
        hashlib.scrypt(b"x", salt=b"s", n=2**17, r=8, p=1, maxmem=DEFAULT_COST.memory_bytes - 1)


def test_the_same_password_hashes_differently_each_time() -> None:
    assert hash_password("password", CHEAP) != hash_password("password", CHEAP)


def test_a_hash_matches_its_password_and_nothing_else() -> None:
    stored = hash_password("password", CHEAP)

    assert check_password("password", stored, CHEAP).matches
    assert not check_password("Password", stored, CHEAP).matches
    assert not check_password("password ", stored, CHEAP).matches


def test_spaces_around_a_password_are_part_of_it() -> None:
    stored = hash_password("  pass phrase  ", CHEAP)

    assert check_password("  pass phrase  ", stored, CHEAP).matches
    assert not check_password("pass phrase", stored, CHEAP).matches


def test_a_hash_is_checked_at_its_own_cost_and_rehashed_at_the_current_one() -> None:
    stored = hash_password("password", CHEAP)

    check = check_password("password", stored, ScryptCost(log2_n=15))

    assert check.matches
    assert check.rehashed is not None
    assert check.rehashed.startswith("scrypt$15$8$1$")
    assert check_password("password", check.rehashed, ScryptCost(log2_n=15)).rehashed is None


def test_a_legacy_hash_matches_its_trimmed_password_and_is_rehashed() -> None:
    stored = legacy_hash("abcd")  # 4 characters: the old minimum

    check = check_password("  abcd ", stored, CHEAP)

    assert LEGACY_COST == CHEAP
    assert check.matches
    assert check.rehashed is not None
    assert check.rehashed.startswith("scrypt$14$")
    # The new hash is of the password as typed this time, untrimmed.
    assert check_password("  abcd ", check.rehashed, CHEAP).matches
    assert not check_password("abcd", check.rehashed, CHEAP).matches


def test_a_wrong_password_for_a_legacy_hash_is_not_rehashed() -> None:
    check = check_password("wrong", legacy_hash("abcd"), CHEAP)

    assert check.matches is False
    assert check.rehashed is None


def test_a_corrupt_or_out_of_bounds_stored_hash_never_matches() -> None:
    salt, key = "00" * 16, "00" * 64
    for stored in [
        "",
        "nodot",
        "zz.zz",
        ".",
        "abc.def",
        f"scrypt$14$8$1${salt}",
        f"bcrypt$14$8$1${salt}${key}",
        f"scrypt$x$8$1${salt}${key}",
        f"scrypt$13$8$1${salt}${key}",  # cheaper than any hash we ever made
        f"scrypt$21$8$1${salt}${key}",  # 2 GiB: more than a hashing slot has
        f"scrypt$14$16$1${salt}${key}",
        f"scrypt$14$8$2${salt}${key}",
    ]:
        assert not check_password("password", stored, CHEAP).matches, stored


def test_a_decoy_is_a_hash_at_the_given_cost_that_nothing_matches() -> None:
    decoy = decoy_hash(CHEAP)

    assert decoy.startswith("scrypt$14$8$1$")
    assert check_password("", decoy, CHEAP).matches is False
    assert check_password("", decoy, CHEAP).rehashed is None


def test_emails_are_compared_lowercased_and_trimmed() -> None:
    assert normalize_email("  Test@Example.COM ") == "test@example.com"
