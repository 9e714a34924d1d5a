"""A test that needs the shared real logs (../shared beside the repository) is skipped, visibly, when they
are absent: it never passes having checked nothing."""

from __future__ import annotations

import pytest

from .. import conftest


def test_absent_real_logs_skip_with_the_one_message(tmp_path, monkeypatch):
    monkeypatch.setattr(conftest, "REAL_LOGS", tmp_path / "missing")
    with pytest.raises(pytest.skip.Exception, match=r"^\.\./shared/real_logs not found beside the repository$"):
        conftest.require_shared()
    with pytest.raises(pytest.skip.Exception, match="real_logs not found beside the repository"):
        conftest.require_real_logs()


def test_an_absent_path_under_shared_names_itself(tmp_path, monkeypatch):
    monkeypatch.setattr(conftest, "SHARED", tmp_path)
    with pytest.raises(pytest.skip.Exception, match=r"^\.\./shared/real_logs2/keras not found beside the repository$"):
        conftest.require_shared("real_logs2", "keras")
    (tmp_path / "real_logs2" / "keras").mkdir(parents=True)
    assert conftest.require_shared("real_logs2", "keras") == tmp_path / "real_logs2" / "keras"


def test_present_real_logs_are_listed(tmp_path, monkeypatch):
    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "a.csv").write_text("epoch,loss\n0,1\n")
    (tmp_path / "SOURCES.md").write_text("where they came from")
    monkeypatch.setattr(conftest, "REAL_LOGS", tmp_path)
    assert conftest.require_real_logs() == [tmp_path / "csv" / "a.csv"]


def test_the_scaling_property_on_real_logs_skips_without_them(tmp_path, monkeypatch):
    """The property test that once passed vacuously without ../shared (issue 21)."""
    pytest.importorskip("hypothesis")
    from ..engine import test_properties

    monkeypatch.setattr(conftest, "REAL_LOGS", tmp_path / "missing")
    with pytest.raises(pytest.skip.Exception):
        test_properties.test_scaling_real_logs_never_changes_the_verdict(10.0)
