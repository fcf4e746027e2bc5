"""Figures a learner can read (issue 19): ``deepling.viz.check_figure`` catches each kind of unreadable
figure, and every figure deepling writes passes it.

The lesson and CLI figures are checked where the tests already draw them: ``tests/conftest.py`` sets
``DEEPLING_CHECK_FIGURES=1`` for every test, so ``lessons.plotting.save`` and the library's own
``savefig`` calls raise on a figure with problems. This module checks the checker, that the switch is
on, and that every lesson's figure is drawn by some test.
"""

import os
import re
from pathlib import Path

import numpy as np
import pytest

from deepling import lessons

plt = pytest.importorskip("matplotlib.pyplot")
from deepling.viz import check_figure  # noqa: E402
from deepling.viz.check import CHECK_ENV, savefig_checked  # noqa: E402


@pytest.fixture
def fig_ax():
    fig, ax = plt.subplots(figsize=(5, 4))
    yield fig, ax
    plt.close(fig)


def _good(ax):
    ax.plot([1, 2, 3], [3, 1, 2], label="train")
    ax.plot([1, 2, 3], [2, 2, 3], label="test")
    ax.set(xlabel="epoch", ylabel="loss (nats)", title="the claim")
    ax.legend()


def test_a_readable_figure_has_no_problems(fig_ax):
    fig, ax = fig_ax
    _good(ax)
    assert check_figure(fig) == []


def test_catches_a_missing_axis_label(fig_ax):
    fig, ax = fig_ax
    _good(ax)
    ax.set_ylabel("")
    assert [p for p in check_figure(fig) if "y axis has numeric ticks but no label" in p]
    ax.set_ylabel("   ")  # blank is not a label
    assert any("y axis" in p for p in check_figure(fig))


def test_catches_two_colored_lines_without_legend(fig_ax):
    fig, ax = fig_ax
    _good(ax)
    ax.get_legend().remove()
    problems = check_figure(fig)
    assert len(problems) == 1 and "2 colors but 2 of them explained by no legend" in problems[0]


def test_colors_explained_otherwise_pass(fig_ax):
    fig, ax = fig_ax
    ax.plot([0, 1], [0, 1], color="C0")
    ax.text(1, 1, "train", color="C0")  # direct labels, in the line's color
    ax.plot([0, 1], [1, 0], color="C1")
    ax.text(1, 0, "test", color="C1")
    ax.axhline(0.5, color="gray", ls="--")  # gray is neutral: a reference line
    ax.set(xlabel="epoch", ylabel="loss (nats)", title="direct labels")
    assert check_figure(fig) == []
    ax.texts[-1].remove()
    assert any("1 of them explained by no legend" in p for p in check_figure(fig))


def test_bars_named_by_their_ticks_need_no_legend(fig_ax):
    fig, ax = fig_ax
    ax.bar(["PCA", "linear AE", "nonlinear AE"], [0.3, 0.3, 0.2], color=["C0", "C1", "C2"])
    ax.set(ylabel="test MSE (per pixel)", title="bars named by their ticks")
    assert check_figure(fig) == []  # the words on the x axis also need no axis label
    ax.set_xticks([])
    assert any("3 colors" in p for p in check_figure(fig))


def test_catches_a_heatmap_without_colorbar(fig_ax):
    fig, ax = fig_ax
    im = ax.imshow(np.arange(16.0).reshape(4, 4), cmap="viridis")
    ax.set(xlabel="key position", ylabel="query position", title="attention")
    problems = check_figure(fig)
    assert len(problems) == 1 and "no colorbar shows the scale" in problems[0]
    cb = fig.colorbar(im, ax=ax)
    assert check_figure(fig) == ["the colorbar of panel 'attention' has no label (the quantity its colors stand for)"]
    cb.set_label("attention weight")
    assert check_figure(fig) == []


def test_a_shared_colorbar_covers_panels_on_the_same_scale():
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.5))
    try:
        for ax, vmax in zip(axes, (1.0, 1.0)):
            im = ax.imshow(np.random.default_rng(0).random((5, 5)), vmin=0, vmax=vmax)
            ax.set(xlabel="column", ylabel="row", title="panel")
        fig.suptitle("two heatmaps, one scale")
        fig.colorbar(im, ax=list(axes), label="value")
        assert check_figure(fig) == []
        axes[0].images[0].set_clim(0, 2)  # another scale: the shared colorbar does not cover it
        assert len([p for p in check_figure(fig) if "no colorbar" in p]) == 1
    finally:
        plt.close(fig)


def test_pictures_and_class_regions_are_exempt():
    fig, axes = plt.subplots(1, 3, figsize=(9, 3))
    try:
        axes[0].imshow(np.random.default_rng(0).random((8, 8)), cmap="gray")
        axes[0].axis("off")  # a digit: a picture, no axes to label, no scale to show
        axes[1].imshow(np.random.default_rng(1).random((8, 8)), cmap="gray")
        axes[1].set(xticks=[], yticks=[])  # no tick labels either
        from matplotlib.patches import Patch

        cmap = plt.get_cmap("coolwarm")
        axes[2].imshow(np.eye(4, dtype=bool), cmap="coolwarm", vmin=0, vmax=1)  # predicted classes 0/1
        axes[2].set(xlabel="x1", ylabel="x2")
        axes[2].legend(handles=[Patch(color=cmap(0.0), label="predicted 0"), Patch(color=cmap(1.0), label="predicted 1")])
        fig.suptitle("pictures, and class regions named by a legend")
        assert check_figure(fig) == []
    finally:
        plt.close(fig)


def test_catches_overlapping_tick_labels(fig_ax):
    fig, ax = fig_ax
    ax.plot(range(40), range(40))
    ax.set_xticks(range(40), [f"label {i}" for i in range(40)])
    ax.set(xlabel="x", ylabel="y", title="crowded ticks")
    problems = check_figure(fig)
    assert len(problems) == 1 and "pairs of x tick labels overlap" in problems[0]
    ax.set_xticks(range(0, 40, 10), [f"label {i}" for i in range(0, 40, 10)])
    assert check_figure(fig) == []


def test_rotated_tick_labels_are_compared_as_rotated_boxes(fig_ax):
    fig, ax = fig_ax
    ax.bar(range(10), np.arange(10) + 1.0)
    names = [f"class number {i}" for i in range(10)]
    ax.set_xticks(range(10), names, rotation=45, ha="right")  # bounding boxes overlap, the texts do not
    ax.set(ylabel="count", title="rotated names")
    fig.tight_layout()
    assert check_figure(fig) == []
    ax.set_xticks(range(10), names, rotation=5, ha="right")  # barely tilted: they do run into each other
    assert any("x tick labels overlap" in p for p in check_figure(fig))


def test_catches_missing_titles_and_cut_text():
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    try:
        for ax in axes:
            ax.plot([0, 1], [0, 1])
            ax.set(xlabel="x (m)", ylabel="y (m)", title="what this panel shows")
        fig.tight_layout()
        assert check_figure(fig) == ["the figure has 2 panels but no suptitle stating its claim"]
        fig.suptitle("a claim much too long for its figure: " * 4)
        assert any("stick out of the figure" in p for p in check_figure(fig))
    finally:
        plt.close(fig)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    ax.set(xlabel="x (m)", ylabel="y (m)")
    assert check_figure(fig) == ["the figure has no title stating its claim (suptitle or the panel's title)"]
    plt.close(fig)


def test_checked_save_raises_only_when_switched_on(tmp_path, monkeypatch):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    path = tmp_path / "bad.png"
    assert os.environ.get(CHECK_ENV) == "1"  # conftest switches the check on for every test
    with pytest.raises(ValueError, match=r"figure .*bad\.png is hard to read \(3 problems\)"):
        savefig_checked(fig, path)
    assert not path.exists()
    monkeypatch.setenv(CHECK_ENV, "0")  # normal use: no check, the figure is written
    savefig_checked(fig, path)
    assert path.exists()
    plt.close(fig)


def test_lesson_save_names_the_path_and_problems(tmp_path):
    from deepling.lessons.plotting import save, subplots

    fig, axes = subplots()
    axes[0][0].plot([0, 1], [0, 1], color="C0")
    axes[0][0].plot([0, 1], [1, 0], color="C1")
    with pytest.raises(ValueError) as e:
        save(fig, str(tmp_path / "lesson.png"))
    msg = str(e.value)
    assert "lesson.png" in msg and "no title" in msg and "x axis" in msg and "y axis" in msg and "2 colors" in msg


def test_every_lesson_figure_is_drawn_and_checked_by_a_test():
    # The lesson tests draw each figure on their quick configuration (with the check on); a lesson
    # added without a figure test would escape the check.
    here = Path(__file__).parent
    text = "\n".join((here / f).read_text() for f in ("test_lessons.py", "test_lessons_vision_seq.py"))
    drawn = set(re.findall(r'(?:_plot|_run_and_plot)\("(\w+)"', text))
    from test_lessons import PLOTTED_WITH_DEFAULTS

    assert set(lessons.NAMES) - drawn - set(PLOTTED_WITH_DEFAULTS) == set()


def test_library_figures_pass(tmp_path):
    import deepling as dl
    from deepling import viz
    from deepling.models.gpt import GPT, plot_attention

    h = {"epochs": [1, 2, 3], "history": {"loss": [1.0, 0.5, 0.6], "val_loss": [1.1, 0.7, 0.9],
                                          "accuracy": [0.5, 0.8, 0.9], "val_accuracy": [0.4, 0.7, 0.6]}}
    viz.plot_history(h, tmp_path / "curves.png")  # checked on save (no title given: a default states it)
    viz.plot_confusion_matrix(np.array([[5, 1], [2, 7]]), tmp_path / "cm.png", ["cat", "dog"])
    dl.manual_seed(0)
    m = GPT(vocab_size=20, context=16, d_model=16, n_heads=2, n_layers=1)
    fig = plot_attention(m.attention_maps(dl.tensor(np.array([[1, 2, 3, 4, 5, 6]]))), list("ab cd."))
    assert check_figure(fig) == []
    plt.close(fig)


def test_training_curves_mark_the_best_epoch(tmp_path, monkeypatch):
    from deepling import viz
    from deepling.viz import plots

    seen = []
    monkeypatch.setattr(plots, "savefig_checked", lambda fig, path, **kw: seen.append(fig))
    h = {"epochs": [1, 2, 3, 4], "history": {"loss": [1.0, 0.5, 0.3, 0.2], "val_loss": [1.1, 0.7, 0.9, 1.0]}}
    viz.plot_history(h, tmp_path / "curves.png")
    (ax,) = seen[0].axes
    best = [ln for ln in ax.lines if ln.get_label().startswith("best epoch")]
    assert len(best) == 1 and list(best[0].get_xdata()) == [2, 2]
    assert check_figure(seen[0]) == []
    plt.close(seen[0])
