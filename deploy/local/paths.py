"""Where the local stack finds the repository and keeps its runtime files."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# Runtime state of `make up` and the tests' stacks: nginx folders, dev keys, state files,
# and `make up`'s kept stores (data/).
RUN_DIR = REPO_ROOT / ".run"
