"""deepling studio's server without a browser: the playground runs, the request checks, the lessons,
the digit model and the graph API (Starlette's TestClient, no network)."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from starlette.testclient import TestClient  # noqa: E402

from deepling.studio import graphs, playground  # noqa: E402
from deepling.studio._engine import BadRequest  # noqa: E402
from deepling.studio.digits import DigitModel, normalize  # noqa: E402
from deepling.studio.playground import Playground, parse_config  # noqa: E402
from deepling.studio.server import MAX_BODY, create_app  # noqa: E402


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    app = create_app(cache_dir=tmp_path_factory.mktemp("cache"), train_digits=False, lesson_time_limit=60,
                     digits_source="digits", digits_epochs=1, digits_images=200)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _unpack(b64: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype=np.uint8)


# ------------------------------------------------------------------ playground

def test_playground_learns_xor_with_the_product_feature():
    p = Playground({"dataset": "xor", "features": ["x1", "x2", "x1x2"], "hidden": [4], "seed": 2})
    first = p.train_loss
    p.step(8)
    assert p.epoch == 8 and p.train_loss < 0.25 * first and p.test_loss < 0.25 * first


def test_same_config_replays_the_same_run_even_when_runs_interleave():
    config = {"dataset": "spiral", "noise": 20, "hidden": [5, 3], "dropout": 0.3, "reg": "l1", "reg_rate": 0.001,
              "seed": 11, "batch": 7}
    a, b = Playground(config), Playground(config)
    losses_a = []
    for _ in range(4):
        a.step(1)
        Playground({"seed": 99, "dropout": 0.5}).step(1)  # another page drawing from the engine's generator
        losses_a.append(a.train_loss)
    losses_b = []
    for _ in range(4):
        b.step(1)
        losses_b.append(b.train_loss)
    assert losses_a == losses_b
    assert a.frame()["boundary"] == b.frame()["boundary"]
    c = Playground(dict(config, seed=12))
    c.step(4)
    assert c.train_loss != a.train_loss


@pytest.mark.parametrize("name", list(playground.DATASETS))
def test_every_data_set(name):
    rng = np.random.default_rng(0)
    x, y = playground.make_data(name, 500, 0.1, rng)
    assert x.shape == (500, 2) and y.shape == (500,) and np.abs(x).max() <= 6 and np.abs(y).max() <= 1
    if playground.DATASETS[name] == "classification":
        assert set(np.unique(y)) == {-1.0, 1.0}
        assert abs((y > 0).mean() - 0.5) < 0.1


def test_frame_holds_every_unit_and_weight():
    p = Playground({"features": ["x1", "x2", "sinx1"], "hidden": [3, 2], "dataset": "reg-gauss"})
    f = p.frame(with_points=True)
    assert f["problem"] == "regression" and f["config"]["hidden"] == [3, 2]
    assert _unpack(f["boundary"]).size == playground.GRID**2
    assert [len(layer) for layer in f["units"]] == [3, 3, 2, 1]
    assert all(_unpack(u).size == playground.THUMB**2 for layer in f["units"] for u in layer)
    assert [np.shape(w) for w in f["weights"]] == [(3, 3), (2, 3), (1, 2)]
    assert len(f["points"]["train"]) == 250 and len(f["points"]["test"]) == 250


def test_a_diverging_run_stops_and_says_so():
    p = Playground({"dataset": "reg-plane", "lr": 10, "activation": "relu", "hidden": [8, 8, 8], "batch": 1,
                    "features": ["x1", "x2", "x1sq", "x2sq", "x1x2"]})
    p.step(3)
    f = p.frame()
    assert f["diverged"] and f["train_loss"] is None and p.done
    json.dumps(f, allow_nan=False)  # the page's JSON.parse would choke on NaN


def test_a_run_stops_at_max_epochs():
    p = Playground({"hidden": [1]})
    p.epoch = playground.MAX_EPOCHS - 2
    p.step(50)
    assert p.epoch == playground.MAX_EPOCHS and p.done
    p.step(1)
    assert p.epoch == playground.MAX_EPOCHS


@pytest.mark.parametrize("raw,message", [
    ({"dataset": "moons"}, "dataset must be one of"),
    ({"noise": 80}, "noise must be in"),
    ({"hidden": [9]}, "neurons per layer must be in"),
    ({"hidden": [1] * 7}, "at most 6"),
    ({"lr": "fast"}, "lr must be a number"),
    ({"lr": float("nan")}, "lr must be in"),
    ({"batch": True}, "batch must be an integer"),
    ({"features": []}, "features must be a non-empty"),
    ({"features": ["x3"]}, "feature must be one of"),
    ({"epochs": 3}, "unknown playground setting"),
])
def test_bad_configs_are_refused_with_a_message(raw, message):
    with pytest.raises(BadRequest, match=message):
        parse_config(raw)


def test_url_strings_parse():
    c = parse_config({"features": "x1,x2sq", "hidden": "3,2", "noise": "10", "seed": "5"})
    assert c["features"] == ["x1", "x2sq"] and c["hidden"] == [3, 2] and c["noise"] == 10 and c["seed"] == 5


def test_playground_socket_protocol(client):
    with client.websocket_connect("/ws/playground") as ws:
        ws.send_json({"type": "step"})
        assert ws.receive_json() == {"type": "error", "message": "send a config first"}
        ws.send_text("not json")
        assert "JSON" in ws.receive_json()["message"]
        ws.send_json({"type": "config", "config": {"noise": 99}})
        assert "noise" in ws.receive_json()["message"]
        ws.send_json({"type": "config", "config": {"seed": 4, "dataset": "gauss"}})
        f = ws.receive_json()
        assert f["type"] == "frame" and f["epoch"] == 0 and f["config"]["seed"] == 4 and "points" in f
        ws.send_json({"type": "step"})
        assert ws.receive_json()["epoch"] == 1
        ws.send_json({"type": "play"})
        epochs = [ws.receive_json()["epoch"] for _ in range(3)]
        assert epochs == sorted(epochs) and epochs[0] > 1
        ws.send_json({"type": "pause"})
        ws.send_json({"type": "reset"})
        while "points" not in (m := ws.receive_json()):
            pass
        assert m["epoch"] == 0 and m["config"]["seed"] == 4
        ws.send_text("x" * 20000)
        assert "too large" in ws.receive_json()["message"]


# ------------------------------------------------------------------ HTTP checks

def test_page_and_assets_are_served_locally(client):
    page = client.get("/")
    assert page.status_code == 200 and "deepling studio" in page.text
    for src in ("common.js", "playground.js", "digits.js", "lessons.js", "graph.js", "app.js", "style.css"):
        assert f"/static/{src}" in page.text
        assert client.get(f"/static/{src}").status_code == 200
    assert "http://" not in page.text and "https://" not in page.text  # no CDN, nothing remote


def test_errors_are_json_messages_never_tracebacks(client, monkeypatch):
    r = client.get("/nothing-here")
    assert r.status_code == 404 and r.json() == {"error": "Not Found"}
    r = client.post("/api/graph", content=b"{not json")
    assert r.status_code == 400 and r.json() == {"error": "request body must be JSON"}
    r = client.post("/api/graph", json=[1, 2])
    assert r.status_code == 400 and "object" in r.json()["error"]
    r = client.post("/api/graph", content=b"x" * (MAX_BODY + 1), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "too large" in r.json()["error"]
    r = client.get("/api/lessons/run")
    assert r.status_code == 405

    def boom(body):
        raise KeyError("secret internals")

    monkeypatch.setattr(graphs, "build", boom)
    r = client.post("/api/graph", json={"model": "mlp"})
    assert r.status_code == 500 and "Traceback" not in r.text and "secret" not in r.text
    assert r.json()["error"].startswith("internal error")


def test_requests_from_other_hosts_and_origins_are_refused(client):
    r = client.get("/api/health", headers={"host": "evil.example"})
    assert r.status_code == 400
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect):
        with client.websocket_connect("/ws/playground", headers={"origin": "http://evil.example"}) as ws:
            ws.receive_json()
    with client.websocket_connect("/ws/playground", headers={"origin": "http://testserver"}) as ws:
        ws.send_json({"type": "config", "config": {}})
        assert ws.receive_json()["type"] == "frame"


def test_graph_api(client):
    r = client.post("/api/graph", json=graphs.PRESETS["micrograd"])
    assert r.status_code == 200
    g = r.json()
    a = next(n for n in g["graph"]["nodes"] if n["name"] == "a")
    # f = relu(a*b + c) * (a + b)^2 at a=2, b=-3, c=10: df/da = b*(a+b)^2 + 2*relu(ab+c)*(a+b) = -3 - 8
    assert a["grad"]["values"] == [pytest.approx(-11.0)]
    assert g["steps"][0]["node"] == g["graph"]["root"] and len(g["steps"]) == len(g["graph"]["backward_order"])
    assert g["svg"].startswith("<svg")
    for m in graphs.MODELS:
        r = client.post("/api/graph", json={"model": m})
        assert r.status_code == 200 and "Total params" in r.json()["summary"]
    for body, message in [
        ({"expression": "__import__('os').system('true')", "inputs": {}}, "not allowed"),
        ({"expression": "open('x')", "inputs": {}}, "unknown function"),
        ({"expression": "x ** y", "inputs": {"x": 1, "y": 2}}, "constant exponent"),
        ({"expression": "w @ x", "inputs": {"w": [1, 2], "x": [1, 2, 3]}}, "cannot be multiplied"),
        ({"expression": "x" * 300, "inputs": {}}, "1 to 200 characters"),
        ({"expression": "x", "inputs": {"x": list(range(100))}}, "1 to 16 numbers"),
        ({"expression": "z + 1", "inputs": {}}, "unknown variable"),
        ({"model": "resnet152"}, "model must be one of"),
    ]:
        r = client.post("/api/graph", json=body)
        assert r.status_code == 400 and message in r.json()["error"], (body, r.json())


# ------------------------------------------------------------------ lessons

def test_lessons_listed_with_claims_and_options(client):
    from deepling import lessons

    items = client.get("/api/lessons").json()["lessons"]
    assert [i["name"] for i in items] == lessons.available()
    gd = next(i for i in items if i["name"] == "gd_learning_rate")
    assert gd["claim"] == lessons.summary("gd_learning_rate")
    assert {o["name"]: o["kind"] for o in gd["options"]} == {"x0": "float", "steps": "int", "rates": "list"}


def test_lesson_runs_in_a_child_process(client):
    r = client.post("/api/lessons/run", json={"name": "gd_learning_rate", "options": {"steps": 4, "rates": [0.1, 0.25]}})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["numbers"]["lr=0.1"] == pytest.approx([2.0, 0.4, 0.08, 0.016, 0.0032])
    assert out["figure"].startswith("data:image/png;base64,") and "verdict" in out


@pytest.mark.parametrize("body,status,message", [
    ({"name": "no_such_lesson"}, 404, "unknown lesson"),
    ({"name": "gd_learning_rate", "options": {"epochs": 3}}, 400, "has no option"),
    ({"name": "gd_learning_rate", "options": {"steps": "ten"}}, 400, "must be an integer"),
    ({"name": "gd_learning_rate", "options": {"steps": 10**9}}, 400, "outside what the studio runs"),
    ({"name": "gd_learning_rate", "options": {"rates": [True]}}, 400, "list of 1 to 16 numbers"),
    ({"name": "overfitting", "options": {"source": "../../etc"}}, 400, "short word"),
    ({"name": 3}, 400, "lesson name"),
])
def test_lesson_options_are_checked(client, body, status, message):
    r = client.post("/api/lessons/run", json=body)
    assert r.status_code == status and message in r.json()["error"]


def test_verdicts_are_passed_on_when_a_lesson_states_one():
    from types import SimpleNamespace

    from deepling.studio.lessons import _jsonable, _verdict

    assert _verdict(SimpleNamespace(), {"x": 1.0}) is None
    assert _verdict(SimpleNamespace(), {"verdict": {"held": True, "message": "ok"}}) == {"held": True, "message": "ok"}
    assert _verdict(SimpleNamespace(verdict=lambda r: r["x"] > 0), {"x": np.float32(2.0)}) is True
    assert _jsonable({"a": np.arange(3), "b": float("nan"), "c": np.zeros(1000)}) == {
        "a": [0, 1, 2], "b": "nan", "c": {"array": [1000], "mean": 0.0, "min": 0.0, "max": 0.0}}


def test_lesson_time_limit_stops_the_child(tmp_path):
    app = create_app(cache_dir=tmp_path, train_digits=False, lesson_time_limit=0.05)
    with TestClient(app) as c:
        r = c.post("/api/lessons/run", json={"name": "gd_learning_rate"})
    assert r.status_code == 400 and "longer than" in r.json()["error"]


# ------------------------------------------------------------------ digit pad

def test_normalize_frames_ink_like_mnist():
    img = np.zeros((28, 28), np.float32)
    img[2:8, 20:26] = 1.0  # a small blob in a corner
    out = normalize(img)
    rows, cols = np.flatnonzero(out.max(1) > 0.05), np.flatnonzero(out.max(0) > 0.05)
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 in (20, 21)  # scaled to fit 20x20
    cy = (out.sum(1) * np.arange(28)).sum() / out.sum()
    cx = (out.sum(0) * np.arange(28)).sum() / out.sum()
    assert abs(cy - 13.5) < 1.0 and abs(cx - 13.5) < 1.0  # mass at the center
    assert normalize(np.zeros((28, 28))).sum() == 0


def test_digit_model_trains_caches_and_predicts(tmp_path):
    m = DigitModel(tmp_path, source="digits", epochs=1, n_max=300)
    with pytest.raises(BadRequest, match="not ready"):
        m.predict([0.0] * 784)
    m.start()
    m._thread.join(timeout=120)
    assert m.status()["state"] == "ready", m.status()
    assert m.status()["cached"] is False and len(list(tmp_path.glob("*.dlpt"))) == 1
    img = np.zeros((28, 28))
    img[4:24, 12:16] = 1.0
    r = m.predict(img.ravel().tolist())
    assert len(r["probs"]) == 10 and abs(sum(r["probs"]) - 1) < 1e-3 and r["top"] == int(np.argmax(r["probs"]))
    assert len(r["maps"]) == 8 and _unpack(r["saliency"]).size == 784 and _unpack(r["saliency"]).max() == 255
    import deepling as dl

    dl.manual_seed(123)  # whatever the generator's state, the same seed trains the same model
    fresh = DigitModel(tmp_path / "other", source="digits", epochs=1, n_max=300)
    fresh.start()
    fresh._thread.join(timeout=120)
    assert fresh.predict(img.ravel().tolist())["probs"] == r["probs"]
    again = DigitModel(tmp_path, source="digits", epochs=1, n_max=300)
    again.start()
    again._thread.join(timeout=60)
    assert again.status()["cached"] is True
    assert again.predict(img.ravel().tolist())["probs"] == r["probs"]
    for bad in ([0.0] * 10, [2.0] * 784, ["a"] * 784, None):
        with pytest.raises(BadRequest, match="pixels"):
            m.predict(bad)


def test_digit_api_reports_status_and_refuses_bad_pixels(client):
    st = client.get("/api/digits/status").json()
    assert st["state"] in ("idle", "loading", "training", "ready")
    r = client.post("/api/digits/predict", json={"pixels": "nope"})
    assert r.status_code == 400 and json.loads(r.text)["error"]
