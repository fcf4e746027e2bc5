"""The playground: TensorFlow Playground's experiment (a small network learning a 2-D data set) on
deepling's real engine.

A ``Playground`` is one run: its configuration (data set, noise, train/test split, input features,
hidden layers, activation, learning rate, batch size, L1/L2, dropout, seed) fixes everything, so the
same configuration (the page keeps it in its URL) replays the same run, epoch for epoch. Points
live on [-6, 6]^2. Classification labels are -1/+1 with a tanh output; regression targets lie in
[-1, 1] with a linear output; the loss is TF Playground's 0.5 * (output - target)^2, averaged.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

import deepling as dl
from deepling.studio._engine import BadRequest, as_choice, as_float, as_int, engine, get, pack

DATASETS = {"circle": "classification", "xor": "classification", "gauss": "classification",
            "spiral": "classification", "reg-plane": "regression", "reg-gauss": "regression"}
FEATURES = {
    "x1": lambda x1, x2: x1, "x2": lambda x1, x2: x2,
    "x1sq": lambda x1, x2: x1 * x1, "x2sq": lambda x1, x2: x2 * x2, "x1x2": lambda x1, x2: x1 * x2,
    "sinx1": lambda x1, x2: np.sin(x1), "sinx2": lambda x1, x2: np.sin(x2),
}
ACTIVATIONS = {"relu": dl.nn.ReLU, "tanh": dl.nn.Tanh, "sigmoid": dl.nn.Sigmoid, "linear": dl.nn.Identity}
REGULARIZATION = ("none", "l1", "l2")
DEFAULTS: dict[str, Any] = {
    "dataset": "circle", "noise": 0, "ratio": 50, "features": ["x1", "x2"], "hidden": [4, 2],
    "activation": "tanh", "lr": 0.03, "batch": 10, "reg": "none", "reg_rate": 0.0, "dropout": 0.0, "seed": 1,
}
N_POINTS = 500
MAX_LAYERS, MAX_NEURONS = 6, 8
MAX_EPOCHS = 5000  # the most one run may train: bounds the work a page can start
GRID, THUMB = 40, 20  # heat-map resolution of the output and of each neuron's thumbnail
EXTENT = 6.0


def parse_config(raw: dict[str, Any]) -> dict[str, Any]:
    """A validated configuration from the page's (or URL's) values; unknown keys are refused."""
    if not isinstance(raw, dict):
        raise BadRequest("playground config must be an object")
    unknown = set(raw) - set(DEFAULTS)
    if unknown:
        raise BadRequest(f"unknown playground setting(s): {', '.join(sorted(unknown))}")
    c = dict(DEFAULTS)
    c["dataset"] = as_choice(get(raw, "dataset", c["dataset"]), "dataset", DATASETS)
    c["noise"] = as_int(get(raw, "noise", c["noise"]), "noise", 0, 50)
    c["ratio"] = as_int(get(raw, "ratio", c["ratio"]), "ratio", 10, 90)
    feats = get(raw, "features", c["features"])
    if isinstance(feats, str):
        feats = [f for f in feats.split(",") if f]
    if not isinstance(feats, list) or not feats:
        raise BadRequest("features must be a non-empty list of " + ", ".join(FEATURES))
    c["features"] = [as_choice(f, "feature", FEATURES) for f in dict.fromkeys(feats)]
    hidden = get(raw, "hidden", c["hidden"])
    if isinstance(hidden, str):
        hidden = [h for h in hidden.split(",") if h]
    if not isinstance(hidden, list) or len(hidden) > MAX_LAYERS:
        raise BadRequest(f"hidden must be a list of at most {MAX_LAYERS} layer sizes")
    c["hidden"] = [as_int(h, "neurons per layer", 1, MAX_NEURONS) for h in hidden]
    c["activation"] = as_choice(get(raw, "activation", c["activation"]), "activation", ACTIVATIONS)
    c["lr"] = as_float(get(raw, "lr", c["lr"]), "lr", 1e-5, 10.0)
    c["batch"] = as_int(get(raw, "batch", c["batch"]), "batch", 1, 30)
    c["reg"] = as_choice(get(raw, "reg", c["reg"]), "reg", REGULARIZATION)
    c["reg_rate"] = as_float(get(raw, "reg_rate", c["reg_rate"]), "reg_rate", 0.0, 10.0)
    c["dropout"] = as_float(get(raw, "dropout", c["dropout"]), "dropout", 0.0, 0.9)
    c["seed"] = as_int(get(raw, "seed", c["seed"]), "seed", 0, 2**31 - 1)
    return c


# --------------------------------------------------------------------------- data

def make_data(name: str, n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points ``(n, 2)`` in [-6, 6]^2 and their labels ``(n,)``; ``noise`` in [0, 0.5]."""
    half = n // 2
    if name == "circle":
        def ring(lo: float, hi: float, k: int) -> np.ndarray:
            r, a = rng.uniform(lo, hi, k), rng.uniform(0, 2 * np.pi, k)
            return np.stack([r * np.cos(a), r * np.sin(a)], 1)
        x = np.concatenate([ring(0, 2.5, half), ring(3.5, 5.0, n - half)])
        y = np.concatenate([np.ones(half), -np.ones(n - half)])
        x = x + rng.uniform(-5, 5, x.shape) * noise
    elif name == "xor":
        x = rng.uniform(-5, 5, (n, 2))
        x += np.sign(x) * 0.3  # keep points off the axes, where the label flips
        y = np.sign(x[:, 0] * x[:, 1])
        x = x + rng.uniform(-5, 5, x.shape) * noise
    elif name == "gauss":
        sd = 0.5 + 3.5 * noise
        x = np.concatenate([rng.normal(2, sd, (half, 2)), rng.normal(-2, sd, (n - half, 2))])
        y = np.concatenate([np.ones(half), -np.ones(n - half)])
    elif name == "spiral":
        parts = []
        for k, delta in ((half, 0.0), (n - half, np.pi)):
            i = np.arange(k)
            r = i / k * 5
            t = 1.75 * i / k * 2 * np.pi + delta
            parts.append(np.stack([r * np.sin(t), r * np.cos(t)], 1) + rng.uniform(-1, 1, (k, 2)) * noise * 2)
        x = np.concatenate(parts)
        y = np.concatenate([np.ones(half), -np.ones(n - half)])
    elif name == "reg-plane":
        x = rng.uniform(-6, 6, (n, 2))
        y = (x[:, 0] + x[:, 1]) / 12 + rng.uniform(-1, 1, n) * noise
    elif name == "reg-gauss":
        x = rng.uniform(-6, 6, (n, 2))
        bumps = [(-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1)]
        y = sum(s * np.exp(-((x[:, 0] - cx) ** 2 + (x[:, 1] - cy) ** 2) / 2) for cx, cy, s in bumps)
        y = y + rng.uniform(-1, 1, n) * noise
    else:  # parse_config admits only the names above
        raise BadRequest(f"unknown data set {name!r}")
    x = np.clip(x, -EXTENT, EXTENT)
    return x.astype(np.float32), np.clip(y, -1, 1).astype(np.float32)


def features(x: np.ndarray, names: list[str]) -> np.ndarray:
    return np.stack([FEATURES[f](x[:, 0], x[:, 1]) for f in names], 1).astype(np.float32)


def _grid(k: int) -> np.ndarray:
    """Cell centers of a k x k grid over the plane, row by row from the top (x2 = +6) down."""
    c = (np.arange(k) + 0.5) / k * 2 * EXTENT - EXTENT
    x1, x2 = np.meshgrid(c, c[::-1])
    return np.stack([x1.ravel(), x2.ravel()], 1).astype(np.float32)


# --------------------------------------------------------------------------- one run

class Playground:
    """One run of the playground; ``step()`` trains an epoch, ``frame()`` says what the page draws."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.config = c = parse_config(raw)
        self.problem = DATASETS[c["dataset"]]
        self.rng = np.random.default_rng(c["seed"])
        x, y = make_data(c["dataset"], N_POINTS, c["noise"] / 100, self.rng)
        order = self.rng.permutation(N_POINTS)
        n_train = N_POINTS * c["ratio"] // 100
        tr, te = order[:n_train], order[n_train:]
        self.points = {"train": x[tr], "train_y": y[tr], "test": x[te], "test_y": y[te]}
        self.x_train, self.y_train = features(x[tr], c["features"]), y[tr][:, None]
        self.x_test, self.y_test = features(x[te], c["features"]), y[te][:, None]
        self.grid = features(_grid(GRID), c["features"])
        self.thumbs = features(_grid(THUMB), c["features"])
        self.epoch = 0
        with engine() as box:
            dl.manual_seed(c["seed"])
            self.model = self._build()
            self.optimizer = dl.optim.SGD(self.model.parameters(), lr=c["lr"])
        self.rng_state = box["rng"]
        self.train_loss, self.test_loss = self._losses()

    def _build(self) -> dl.nn.Sequential:
        c = self.config
        layers: list[dl.nn.Module] = []
        width = len(c["features"])
        for h in c["hidden"]:
            layers += [dl.nn.Linear(width, h), ACTIVATIONS[c["activation"]]()]
            if c["dropout"] > 0:
                layers.append(dl.nn.Dropout(c["dropout"]))
            width = h
        layers.append(dl.nn.Linear(width, 1))
        if self.problem == "classification":
            layers.append(dl.nn.Tanh())
        return dl.nn.Sequential(*layers)

    @property
    def linears(self) -> list[dl.nn.Linear]:
        return [m for m in self.model if isinstance(m, dl.nn.Linear)]

    def _penalty(self) -> dl.Tensor | None:
        c = self.config
        if c["reg"] == "none" or c["reg_rate"] == 0:
            return None
        ws = [m.weight for m in self.linears]
        if c["reg"] == "l1":
            return c["reg_rate"] * sum(w.abs().sum() for w in ws)
        return c["reg_rate"] * 0.5 * sum((w * w).sum() for w in ws)

    def _losses(self) -> tuple[float, float]:
        with engine(), dl.no_grad():
            self.model.eval()
            out = []
            for x, y in ((self.x_train, self.y_train), (self.x_test, self.y_test)):
                pred = self.model(dl.from_numpy(x)).array
                out.append(float(0.5 * np.mean((pred - y) ** 2)))
            self.model.train()
        return out[0], out[1]

    @property
    def done(self) -> bool:
        return self.epoch >= MAX_EPOCHS

    def step(self, epochs: int = 1) -> None:
        """Train ``epochs`` passes over the training points in shuffled minibatches (at most MAX_EPOCHS in all)."""
        epochs = min(epochs, MAX_EPOCHS - self.epoch)
        if epochs <= 0:
            return
        b = self.config["batch"]
        with engine(self.rng_state) as box:
            self.model.train()
            for _ in range(epochs):
                order = self.rng.permutation(len(self.x_train))
                for i in range(0, len(order), b):
                    idx = order[i : i + b]
                    pred = self.model(dl.from_numpy(self.x_train[idx]))
                    loss = 0.5 * ((pred - dl.from_numpy(self.y_train[idx])) ** 2).mean()
                    penalty = self._penalty()
                    if penalty is not None:
                        loss = loss + penalty
                    self.optimizer.zero_grad()
                    loss.backward()
                    self.optimizer.step()
                self.epoch += 1
        self.rng_state = box["rng"]
        self.train_loss, self.test_loss = self._losses()
        if not np.isfinite(self.train_loss):
            self.epoch = MAX_EPOCHS  # diverged: nothing more to learn (the page says so)

    def play(self, seconds: float = 0.05) -> int:
        """Train whole epochs for about ``seconds`` (at least one); returns how many ran."""
        t0, n = time.perf_counter(), 0
        while not self.done and (n == 0 or time.perf_counter() - t0 < seconds):
            self.step(1)
            n += 1
        return n

    def _activations(self, x: np.ndarray) -> list[list[np.ndarray]]:
        """Each layer's units over the points ``x``: the input features, then every hidden layer's
        activations, then the output (evaluation mode: no dropout)."""
        layers = [[x[:, j] for j in range(x.shape[1])]]
        acts, n_hidden = tuple(ACTIVATIONS.values()), len(self.config["hidden"])
        with engine(), dl.no_grad():
            self.model.eval()
            h = dl.from_numpy(x)
            for m in self.model:
                h = m(h)
                if isinstance(m, acts) and len(layers) <= n_hidden:  # a hidden layer, after its activation
                    layers.append([h.array[:, j] for j in range(h.shape[1])])
            layers.append([h.array[:, 0]])
            self.model.train()
        return layers

    def frame(self, with_points: bool = False) -> dict[str, Any]:
        """What the page draws now: losses, the output heat map, each unit's thumbnail, the weights."""
        out = self._activations(self.grid)[-1][0].reshape(GRID, GRID)
        units = self._activations(self.thumbs)
        def finite(v: float) -> float | None:  # JSON has no NaN: a diverged loss travels as null
            return v if np.isfinite(v) else None

        f: dict[str, Any] = {
            "epoch": self.epoch, "train_loss": finite(self.train_loss), "test_loss": finite(self.test_loss),
            "done": self.done, "diverged": not np.isfinite(self.train_loss),
            "boundary": pack(out), "grid": GRID, "thumb": THUMB,
            "units": [[pack(u.reshape(THUMB, THUMB)) for u in layer] for layer in units],
            "weights": [np.round(np.nan_to_num(m.weight.array), 4).tolist() for m in self.linears],
            "biases": [np.round(np.nan_to_num(m.bias.array), 4).tolist() for m in self.linears],
        }
        if with_points:
            f["config"] = self.config
            f["problem"] = self.problem
            f["points"] = {k: np.round(v, 3).tolist() for k, v in self.points.items()}
        return f
