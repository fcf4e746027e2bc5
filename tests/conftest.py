import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# Reproducible property tests: the same examples on every run and in CI (no flaky red builds).
settings.register_profile("deepling", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("deepling")

try:  # one BLAS thread per test process: small GEMMs do not gain from threads and suffer under load
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")
except ImportError:  # pragma: no cover
    pass


@pytest.fixture(autouse=True)
def _check_figures(monkeypatch):
    """Every figure the tests write is checked for readability (deepling.viz.check_figure): a figure with
    an unlabelled axis, an unexplained color, a heatmap without colorbar or overlapping ticks fails."""
    monkeypatch.setenv("DEEPLING_CHECK_FIGURES", "1")
