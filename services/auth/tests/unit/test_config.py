import pytest
import yaml

from services.auth.config import HashingSettings, default_hash_concurrency
from services.auth.domain import DEFAULT_COST
from shared.config import ConfigError, Env
from shared.testing.infra import REPO_ROOT

MIB = 2**20
# A real auth process after its first sign-up, measured: about 61 MiB.
PROCESS_BASELINE_BYTES = 64 * MIB


def hashing(**environ: str) -> HashingSettings:
    return HashingSettings.from_env(Env(environ))


def test_by_default_two_hashes_at_n_2_17_run_at_once_and_others_wait_5_seconds() -> None:
    assert hashing() == HashingSettings(scrypt_log2_n=17, concurrency=2, wait_s=5.0)


def test_a_cheaper_cost_lets_more_hashes_run_in_the_same_memory() -> None:
    assert hashing(AUTH_SCRYPT_LOG2_N="14").concurrency == 15
    assert hashing(AUTH_SCRYPT_LOG2_N="18").concurrency == 1
    assert hashing(AUTH_SCRYPT_LOG2_N="14", AUTH_HASH_CONCURRENCY="3").concurrency == 3


def test_the_cost_is_between_2_14_and_2_20_and_at_least_one_hash_runs() -> None:
    for environ, message in [
        ({"AUTH_SCRYPT_LOG2_N": "13"}, "AUTH_SCRYPT_LOG2_N must be at least 14"),
        ({"AUTH_SCRYPT_LOG2_N": "21"}, "AUTH_SCRYPT_LOG2_N must be at most 20"),
        ({"AUTH_HASH_CONCURRENCY": "0"}, "AUTH_HASH_CONCURRENCY must be at least 1"),
        ({"AUTH_HASH_WAIT_SECONDS": "-1"}, "AUTH_HASH_WAIT_SECONDS must be at least 0"),
    ]:
        with pytest.raises(ConfigError, match=message):
            hashing(**environ)


def test_the_concurrency_never_defaults_to_0() -> None:
    assert default_hash_concurrency(20) == 1


def test_the_charts_memory_limit_for_auth_holds_its_hashes_at_once_and_the_process() -> None:
    values = yaml.safe_load((REPO_ROOT / "helm/ticketing/values.yaml").read_text())
    resources = values["components"]["auth"]["resources"]
    limit_mib = int(resources["limits"]["memory"].removesuffix("Mi"))
    request_mib = int(resources["requests"]["memory"].removesuffix("Mi"))
    peak_bytes = PROCESS_BASELINE_BYTES + HashingSettings().concurrency * DEFAULT_COST.memory_bytes

    assert request_mib * MIB >= peak_bytes
    assert limit_mib * MIB >= peak_bytes + 64 * MIB  # room for the heap to grow
