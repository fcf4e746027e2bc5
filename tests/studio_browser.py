"""Drive deepling studio in a real headless Chromium (Debian's /usr/bin/chromium through Playwright;
no browser is ever downloaded). Used by tests/test_studio_browser.py and, with
``python tests/studio_browser.py docs/figures``, to make the README's screenshots with the same code.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator

CHROMIUM = os.environ.get("DEEPLING_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 820}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def studio_server(cache_dir: str | os.PathLike, **options: Any) -> Iterator[str]:
    """The studio on 127.0.0.1 and a free port, in a thread of this process; yields its base URL."""
    import uvicorn

    from deepling.studio.server import create_app

    options.setdefault("digits_source", "digits")
    options.setdefault("digits_epochs", 1)
    options.setdefault("train_digits", False)  # the pad's first request starts it: no CPU spent elsewhere
    app = create_app(cache_dir=cache_dir, **options)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    server.install_signal_handlers = lambda: None  # not the main thread
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("studio server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class Watch:
    """Every request the page makes and every console error, to assert nothing left 127.0.0.1."""

    def __init__(self, page: Any, base: str) -> None:
        self.base, self.requests, self.errors = base, [], []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def outside(self) -> list[str]:
        ws = self.base.replace("http://", "ws://")
        return [u for u in self.requests if not (u.startswith(self.base + "/") or u.startswith(ws + "/")
                                                 or u.startswith("data:") or u.startswith("blob:"))]


@contextlib.contextmanager
def browser() -> Iterator[Any]:
    """A fresh Chromium context (new user-data dir), headless, nothing phoning home."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="deepling-chromium-") as profile, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, viewport=VIEWPORT,
            service_workers="block")
        try:
            yield ctx
        finally:
            ctx.close()


def canvas_data(page: Any, selector: str) -> str:
    return page.eval_on_selector(selector, "c => c.toDataURL()")


# ------------------------------------------------------------------ one function per view

def tour_playground(page: Any, base: str, shots: Path, steps: int = 12) -> dict[str, Any]:
    """Open the playground from a URL, step it ``steps`` epochs, play a moment; returns what was seen."""
    url = (f"{base}/?view=playground&dataset=xor&noise=0&ratio=50&features=x1,x2,x1x2&hidden=4,2&activation=tanh"
           f"&lr=0.03&batch=10&reg=none&reg_rate=0&dropout=0&seed=7")
    page.goto(url)
    page.wait_for_function("studio.playground.frames > 0 && document.querySelectorAll('#pg-network .neuron').length > 0")
    first = page.evaluate("studio.playground.lastFrame.train_loss")
    before = canvas_data(page, "#pg-boundary")
    losses = []
    for _ in range(steps):
        losses.append(step(page))
    after = canvas_data(page, "#pg-boundary")
    epoch = page.evaluate("studio.playground.lastFrame.epoch")
    # play for a few frames, then pause
    n = page.evaluate("studio.playground.frames")
    page.click("#pg-play")
    page.wait_for_function(f"studio.playground.frames > {n + 3}")
    page.click("#pg-play")
    page.wait_for_timeout(150)
    played = page.evaluate("studio.playground.lastFrame.epoch")
    page.check("#pg-show-test")
    page.wait_for_timeout(100)
    page.screenshot(path=str(shots / "studio-playground.png"))
    return {"first": first, "losses": losses, "epoch": epoch, "played": played, "before": before, "after": after,
            "url": page.url, "edges": page.locator("#pg-network path.weight").count(),
            "units": page.locator("#pg-network .neuron canvas").count()}


def replay_losses(page: Any, url: str, steps: int) -> list[float]:
    page.goto(url)
    page.wait_for_function("studio.playground.frames > 0")
    return [step(page) for _ in range(steps)]


def step(page: Any) -> float:
    """Click "step" and wait for the next epoch's frame; returns its training loss."""
    epoch = page.evaluate("studio.playground.lastFrame.epoch")
    page.click("#pg-step")
    page.wait_for_function(f"studio.playground.lastFrame.epoch === {epoch + 1}")
    return page.evaluate("studio.playground.lastFrame.train_loss")


def tour_digits(page: Any, base: str, shots: Path, timeout_ms: int = 90_000) -> dict[str, Any]:
    """Draw a '1' stroke (then a '7' bar) on the pad and wait for the CNN's answer."""
    page.goto(f"{base}/?view=digits")
    page.wait_for_function("studio.digits.isReady()", timeout=timeout_ms)
    box = page.locator("#dg-pad").bounding_box()
    x0, y0 = box["x"], box["y"]
    page.mouse.move(x0 + 100, y0 + 60)
    page.mouse.down()
    page.mouse.move(x0 + 180, y0 + 60, steps=6)
    page.mouse.move(x0 + 130, y0 + 230, steps=10)
    page.mouse.up()
    page.wait_for_function("studio.digits.last !== null && studio.digits.predictions > 0")
    page.wait_for_timeout(300)  # let the last prediction of the stroke land
    result = page.evaluate("studio.digits.last")
    page.screenshot(path=str(shots / "studio-digits.png"))
    return {"probs": result["probs"], "top": result["top"], "maps": page.locator("#dg-maps canvas").count(),
            "status": page.inner_text("#dg-status")}


def tour_lessons(page: Any, base: str, shots: Path, lesson: str = "gd_learning_rate") -> dict[str, Any]:
    page.goto(f"{base}/?view=lessons")
    page.wait_for_selector(f"#ls-list li[data-name='{lesson}']")
    count = page.locator("#ls-list li").count()
    page.click(f"#ls-list li[data-name='{lesson}']")
    page.fill("#ls-opt-steps", "8")
    page.click("#ls-run")
    page.wait_for_selector("#ls-figure", timeout=90_000)
    page.wait_for_function("document.querySelector('#ls-figure').naturalWidth > 0")
    page.screenshot(path=str(shots / "studio-lessons.png"), full_page=True)
    return {"count": count, "result": page.evaluate("studio.lessons.last"), "verdict": page.inner_text(".verdict"),
            "rows": page.locator("#ls-numbers tr").count()}


def tour_graph(page: Any, base: str, shots: Path) -> dict[str, Any]:
    page.goto(f"{base}/?view=graph&example=neuron")
    page.wait_for_selector("#gr-canvas .dl-node")
    nodes = page.locator("#gr-canvas .dl-node").count()
    hidden_before = page.evaluate("getComputedStyle(document.querySelector('#gr-canvas .dl-node .dl-grad')).visibility")
    page.click("#gr-step")
    page.click("#gr-step")
    page.click("#gr-step")
    page.locator("#gr-canvas .dl-node[data-kind='param']").first.click()
    detail = page.inner_text("#gr-node")
    steptext = page.inner_text("#gr-steptext")
    done = page.locator("#gr-canvas .dl-node.done").count()
    page.screenshot(path=str(shots / "studio-graph.png"))
    # an expression typed in
    page.fill("#gr-expression", "sigmoid(a * b) + a")
    page.fill("#gr-inputs", '{"a": 1.5, "b": -2}')
    page.click("#gr-build")
    page.wait_for_function("studio.graph.last.title === 'sigmoid(a * b) + a'")
    typed = [n["op"] for n in page.evaluate("studio.graph.last.graph.nodes")]
    # a model's graph comes with its summary table
    page.select_option("#gr-preset", "model:mlp")
    page.wait_for_function("document.querySelector('#gr-summary').textContent.includes('Total params')")
    return {"nodes": nodes, "hidden_before": hidden_before, "detail": detail, "steptext": steptext, "done": done,
            "typed": typed, "summary": page.inner_text("#gr-summary")}


def main(out: str) -> None:
    """Write the README's screenshots (one per view) to ``out``."""
    shots = Path(out)
    shots.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as cache, studio_server(cache) as base, browser() as ctx:
        page = ctx.new_page()
        watch = Watch(page, base)
        for tour in (tour_playground, tour_digits, tour_lessons, tour_graph):
            tour(page, base, shots)
        assert not watch.outside(), watch.outside()
        assert not watch.errors, watch.errors
    print("wrote", ", ".join(sorted(p.name for p in shots.glob("studio-*.png"))))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/figures")
