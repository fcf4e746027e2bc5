"""Figure helpers shared by the lessons (matplotlib, the ``viz`` extra, without a display)."""

from __future__ import annotations

from typing import Any

__all__ = ["subplots", "save"]


def subplots(nrows: int = 1, ncols: int = 1, size: tuple[float, float] | None = None) -> tuple[Any, Any]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError("plots need matplotlib: pip install 'deepling[viz]'") from e
    size = size or (4.2 * ncols, 3.4 * nrows)
    fig, axes = plt.subplots(nrows, ncols, figsize=size, squeeze=False)
    return fig, axes


def save(fig: Any, path: str, tight: bool = True) -> None:
    """Lay out (unless the caller already did, e.g. before adding a shared colorbar) and write a PNG.

    With ``DEEPLING_CHECK_FIGURES=1`` (the tests), ``deepling.viz.check_figure`` runs first and a figure
    a learner could not read raises ``ValueError`` naming ``path`` and every problem.
    """
    import matplotlib.pyplot as plt

    from deepling.viz.check import savefig_checked

    if tight:
        fig.tight_layout()
    try:
        savefig_checked(fig, path, dpi=110)
    finally:
        plt.close(fig)
