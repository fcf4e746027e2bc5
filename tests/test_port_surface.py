"""A PyTorch-style script using the surface scripts reach for (device selection, cudnn flags,
``.to(device, non_blocking=True)``, legacy tensor types, ``topk`` accuracy, f-string formatting of
0-d tensors, ``inference_mode``, ``amp.autocast(enabled=False)``, ``compile``, NumPy float64 data,
PyTorch's module paths) runs on both frameworks; only the import lines differ.

Both runs start from the same weights and see the same batches, so their losses must agree.
"""

import numpy as np
import pytest

IMPORTS = {
    "torch": "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
             "from torch.nn.modules.linear import Linear\nfrom torch.utils.data.dataloader import default_collate\n",
    "deepling": "import deepling as torch\nimport deepling.nn as nn\nimport deepling.nn.functional as F\n"
                "from deepling.nn.modules.linear import Linear\nfrom deepling.utils.data.dataloader import default_collate\n",
}

SCRIPT = '''
import warnings
torch.manual_seed(0)
torch.cuda.manual_seed_all(0)
torch.backends.cudnn.benchmark = True
use_accel = torch.accelerator.is_available()
device = torch.accelerator.current_accelerator() if use_accel else torch.device("cpu")
device2 = torch.device("cuda" if torch.cuda.is_available() else "cpu")
assert device == device2 and str(device) == "cpu"

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = Linear(6, 16)
        self.fc2 = nn.Linear(16, 4)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))

model = Net().to(device)
model.load_state_dict({k: torch.tensor(v).float() for k, v in INIT.items()})  # float64 arrays: cast as torch needs
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    model = torch.compile(model) if COMPILE else model
X = torch.tensor(DATA_X)                         # a float64 NumPy array stays float64 ...
assert X.dtype == torch.float64
X = X.to(device, torch.float32, non_blocking=True)  # ... and is cast explicitly
Y = torch.LongTensor(DATA_Y.tolist()).to(device)
opt = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
log = []
for step in range(30):
    idx = torch.arange(step % 4 * 16, step % 4 * 16 + 16)
    batch = default_collate([(X[i], Y[i]) for i in idx.tolist()])
    xb, yb = batch[0].to(device), batch[1].to(device)
    with torch.autocast(device_type=device.type, enabled=False):
        out = model(xb)
        loss = F.cross_entropy(out, yb)
    opt.zero_grad()
    loss.backward()
    opt.step()
    log.append(f"{loss:.5f}")

@torch.inference_mode()
def accuracy(output, target, topk=(1, 2)):
    maxk = max(topk)
    _, pred = output.topk(maxk, 1, True, True)
    pred = pred.t()
    correct = pred.eq(target.view(1, -1).expand_as(pred))
    return [correct[:k].reshape(-1).float().sum(0, keepdim=True).item() / target.size(0) for k in topk]

model.eval()
with torch.inference_mode():
    logits = model(X)
top1, top2 = accuracy(logits, Y)
rolled = torch.roll(Y, 1).narrow(0, -3, 3).tolist()
shown = "{:.3f}".format(logits.max())
'''


def _run(framework):
    rng = np.random.default_rng(0)
    init = {"fc1.weight": rng.standard_normal((16, 6)) * 0.4, "fc1.bias": np.zeros(16),
            "fc2.weight": rng.standard_normal((4, 16)) * 0.4, "fc2.bias": np.zeros(4)}
    x = rng.standard_normal((64, 6))
    y = (x[:, 0] > 0).astype(np.int64) * 2 + (x[:, 1] > 0)
    env = {"INIT": init, "DATA_X": x, "DATA_Y": y, "COMPILE": framework == "deepling"}
    exec(IMPORTS[framework] + SCRIPT, env)
    return env


def test_script_runs_on_both_with_the_same_results():
    t, d = _run("torch"), _run("deepling")
    np.testing.assert_allclose([float(v) for v in d["log"]], [float(v) for v in t["log"]], rtol=1e-4, atol=1e-4)
    assert float(d["log"][-1]) < float(d["log"][0]) * 0.5  # it learns
    assert d["top1"] == pytest.approx(t["top1"]) and d["top2"] == pytest.approx(t["top2"])
    assert d["top1"] > 0.8 and d["top2"] >= d["top1"]
    assert d["rolled"] == t["rolled"] and d["shown"] == t["shown"]
