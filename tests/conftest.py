from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "sample_logs"
SHARED = REPO.parent / "shared"
REAL_LOGS = SHARED / "real_logs"

#: sample file -> the verdict it was generated to show (see sample_logs/README.md)
SAMPLE_VERDICTS = {
    "healthy.csv": "healthy",
    "overfitting.csv": "overfitting",
    "cramming_history.json": "cramming",
    "not_learning.jsonl": "not_learning",
    "diverged.csv": "diverged",
    "still_improving_fastai.csv": "still_improving",
    "insufficient_data.csv": "insufficient_data",
}


def sample(name: str) -> Path:
    return SAMPLES / name


def real_log_files() -> list[Path]:
    if not REAL_LOGS.is_dir():
        return []
    return sorted(p for p in REAL_LOGS.rglob("*") if p.is_file() and p.name not in NOT_LOGS)


#: files in real_logs/ that describe the logs rather than being one
NOT_LOGS = {"SOURCES.md", "LABELS.md", "LABELS.json"}


def require_shared(*parts: str) -> Path:
    """``../shared/real_logs`` (or ``../shared/<parts>``) when it is beside the repository; otherwise the
    test is skipped, visibly, with one message: a test that reads the shared real logs never passes
    without checking anything in a checkout that has none."""
    path = SHARED.joinpath(*parts) if parts else REAL_LOGS
    if not path.exists():
        where = "/".join(("..", "shared") + parts) if parts else "../shared/real_logs"
        pytest.skip(f"{where} not found beside the repository")
    return path


def require_real_logs() -> list[Path]:
    """Every file of ../shared/real_logs, or a visible skip when they are absent."""
    require_shared()
    return real_log_files()


@pytest.fixture
def real_logs() -> list[Path]:
    """Every file of ../shared/real_logs; the test is skipped, visibly, when they are absent."""
    return require_real_logs()


def noisy(values, rel=0.0, seed=0) -> list[float]:
    """A deterministic curve with multiplicative noise of relative size ``rel``."""
    v = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    return list(v * (1 + rel * rng.standard_normal(v.size)))


def decay(n, start, end, tau) -> np.ndarray:
    t = np.arange(n)
    return end + (start - end) * np.exp(-t / tau)


@pytest.fixture
def write(tmp_path):
    """write(name, text or bytes) -> path of a new file in a temp dir."""

    def _write(name: str, content) -> Path:
        p = tmp_path / name
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, newline="")
        return p

    return _write


# A whole file that is slow by design (fuzzing, properties over generated logs, bounds, scale, watch's
# real writer processes, the labelled benchmark) says so itself: ``pytestmark = pytest.mark.slow``; a file
# that trains a real framework or starts a server: ``pytestmark = pytest.mark.integration``.
#: words in a test's name that mark it slow wherever it lives (the SQLite fuzz, differential checks)
SLOW_WORDS = ("fuzz", "differential", "property", "properties", "real_process", "exits_141", "ctrl_c")


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(config, items):
    """Mark the slow tests ``slow`` (registered in pyproject.toml): ``pytest -m "not slow"`` is the
    fast suite for development; CI runs everything."""
    slow = pytest.mark.slow
    for item in items:
        name = item.name.lower()
        if (
            getattr(getattr(item, "obj", None), "is_hypothesis_test", False)  # every @given test
            or any(w in name for w in SLOW_WORDS)
        ):
            item.add_marker(slow)

