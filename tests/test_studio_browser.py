"""deepling studio end to end in headless Chromium: every view opened, used and photographed.

Chromium is Debian's ``/usr/bin/chromium`` driven by Playwright (``.ci/run`` installs it; no browser
download). Each test asserts that no request left 127.0.0.1 and that the console stayed free of
errors. Screenshots go to the test's temporary folder (``python tests/studio_browser.py docs/figures``
makes the README's with the same code).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
playwright = pytest.importorskip("playwright")

import studio_browser as sb  # noqa: E402  (tests/ is on sys.path: see conftest.py)

if not os.path.exists(sb.CHROMIUM):
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"{sb.CHROMIUM} is missing: .ci/run installs Debian's chromium")
    pytest.skip(f"{sb.CHROMIUM} not installed (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    with sb.studio_server(tmp_path_factory.mktemp("studio-cache")) as url:
        yield url


@pytest.fixture(scope="module")
def context():
    with sb.browser() as ctx:
        yield ctx


@pytest.fixture
def page(context, base):
    page = context.new_page()
    watch = sb.Watch(page, base)
    yield page
    page.close()
    assert watch.requests, "the page made no requests at all"
    assert not watch.outside(), f"requests left 127.0.0.1: {watch.outside()}"
    assert not watch.errors, f"console errors: {watch.errors}"


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_playground_trains_and_its_url_replays_the_run(page, base, tmp_path):
    seen = sb.tour_playground(page, base, tmp_path, steps=10)
    losses = seen["losses"]
    assert seen["epoch"] == 10 and seen["played"] > 10
    assert losses[-1] < 0.5 * seen["first"], losses  # the loss falls
    assert seen["before"] != seen["after"]  # and the decision boundary moved
    assert seen["edges"] == 3 * 4 + 4 * 2 + 2 * 1  # one edge per weight
    assert seen["units"] == 7 + 4 + 2 + 1  # every feature's, neuron's and the output's thumbnail
    assert "seed=7" in seen["url"] and "hidden=4%2C2" in seen["url"]
    replay = sb.replay_losses(page, seen["url"], 3)  # the URL now also holds what the page set
    again = sb.replay_losses(page, seen["url"], 3)
    assert replay == again
    assert _png_size(tmp_path / "studio-playground.png") == (sb.VIEWPORT["width"], sb.VIEWPORT["height"])


def test_playground_controls_change_the_network(page, base):
    page.goto(f"{base}/?view=playground&hidden=2&seed=3")
    page.wait_for_function("studio.playground.frames > 0")
    page.click("#pg-add-layer")
    page.wait_for_function("studio.playground.lastFrame.units.length === 4")
    page.click(".add-neuron[data-layer='0']")
    page.wait_for_function("studio.playground.lastFrame.units[1].length === 3")
    page.click(".feature[data-feature='x1sq']")
    page.wait_for_function("studio.playground.lastFrame.units[0].length === 3")
    assert "hidden=3%2C2" in page.url and "x1sq" in page.url
    output = sb.canvas_data(page, "#pg-boundary")
    page.hover("#pg-network .pg-layer:nth-of-type(2) .neuron")  # a hidden neuron, shown full size
    assert sb.canvas_data(page, "#pg-boundary") != output
    page.mouse.move(5, 5)
    assert sb.canvas_data(page, "#pg-boundary") == output
    page.goto(f"{base}/?view=playground&noise=999")  # a bad URL gets the server's message, not a crash
    page.wait_for_function("document.querySelector('#pg-message').textContent.includes('noise')")


def test_digit_pad_predicts_a_drawing(page, base, tmp_path):
    seen = sb.tour_digits(page, base, tmp_path)
    probs = np.array(seen["probs"])
    assert probs.shape == (10,) and abs(probs.sum() - 1) < 1e-3 and seen["top"] == int(probs.argmax())
    assert seen["maps"] == 8
    assert "trained on digits" in seen["status"]
    assert (tmp_path / "studio-digits.png").exists()


def test_lesson_runs_from_its_form_and_shows_its_figure(page, base, tmp_path):
    seen = sb.tour_lessons(page, base, tmp_path)
    from deepling import lessons

    assert seen["count"] == len(lessons.available())
    r = seen["result"]
    assert r["options"] == {"steps": 8} and len(r["numbers"]["lr=0.1"]) == 9
    assert seen["rows"] == len(r["numbers"])
    fig = base64.b64decode(r["figure"].split(",", 1)[1])
    assert fig[:8] == b"\x89PNG\r\n\x1a\n"
    assert "verdict" in seen["verdict"] or "claim" in seen["verdict"]
    assert (tmp_path / "studio-lessons.png").exists()


def test_graph_expands_nodes_and_steps_backward(page, base, tmp_path):
    seen = sb.tour_graph(page, base, tmp_path)
    assert seen["nodes"] == 6 and seen["hidden_before"] == "hidden"
    assert seen["done"] == 3 and "step 3/6" in seen["steptext"] and "dL/d[b]" in seen["steptext"]
    assert "kind" in seen["detail"] and "shape" in seen["detail"]
    assert sorted(seen["typed"]) == sorted(["leaf", "leaf", "Mul", "Sigmoid", "Add"])
    assert "Total params: 13" in seen["summary"]
    assert (tmp_path / "studio-graph.png").exists()
