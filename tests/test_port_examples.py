"""Surface that public PyTorch example programs reach for, checked on both frameworks: the
serialization allowlist around loading a whole model, and ``nn.modules`` import paths."""

import importlib
import sys
import types

import pytest

SCRIPT = '''
torch.manual_seed(0)

class Tagger(nn.Module):
    def __init__(self, ntoken, nhid):
        super().__init__()
        self.encoder = nn.Embedding(ntoken, nhid)
        self.rnn = nn.LSTM(nhid, nhid, 1)
        self.decoder = nn.Linear(nhid, ntoken)

    def forward(self, x, hidden):
        out, hidden = self.rnn(self.encoder(x), hidden)
        return F.log_softmax(self.decoder(out).view(-1, self.decoder.out_features), dim=1), hidden

model = Tagger(7, 5)
x = torch.LongTensor(12).zero_().view(-1, 2) + torch.arange(6).view(-1, 1) % 7
h = (torch.zeros(1, 2, 5), torch.zeros(1, 2, 5))
before, _ = model(x, h)
with open(PATH, 'wb') as f:
    torch.save(model, f)
allow = [Tagger, torch.nn.modules.rnn.LSTM, torch.nn.modules.sparse.Embedding,
         torch.nn.modules.linear.Linear, torch.nn.modules.linear.NonDynamicallyQuantizableLinear]
with open(PATH, 'rb') as f:
    with torch.serialization.safe_globals(allow):
        inside = len(torch.serialization.get_safe_globals())
        model = torch.load(f)
outside = len(torch.serialization.get_safe_globals())
model.rnn.flatten_parameters()
after, _ = model(x, h)
same = bool(torch.equal(before, after))
line = '{:.4f} {:+.2f}'.format(after[0, 0], after.mean())
attn_out = type(nn.MultiheadAttention(4, 2).out_proj).__name__
'''


def _run(framework, tmp_path, monkeypatch):
    # the program runs as an importable module, so PyTorch's pickler finds its class by name
    prog = types.ModuleType(f"port_examples_{framework}")
    monkeypatch.setitem(sys.modules, prog.__name__, prog)
    env = prog.__dict__
    env.update(torch=importlib.import_module(framework), nn=importlib.import_module(f"{framework}.nn"),
               F=importlib.import_module(f"{framework}.nn.functional"), PATH=str(tmp_path / "m.pt"))
    exec(compile(SCRIPT, f"<{framework}>", "exec"), env)
    return env


@pytest.mark.parametrize("framework", ["deepling", "torch"])
def test_whole_model_round_trip_under_safe_globals(framework, tmp_path, monkeypatch):
    env = _run(framework, tmp_path, monkeypatch)
    assert env["same"]
    assert env["inside"] == env["outside"] + 5
    assert env["attn_out"] == "NonDynamicallyQuantizableLinear"
    assert len(env["line"].split()) == 2


def test_safe_globals_refuses_a_non_list():
    import torch

    import deepling as dl
    with pytest.raises(TypeError):
        with dl.serialization.safe_globals(dl.nn.Linear):
            pass
    with pytest.raises((TypeError, AttributeError)):
        with torch.serialization.safe_globals(torch.nn.Linear):
            pass
    dl.serialization.add_safe_globals([dl.nn.Linear])
    assert dl.nn.Linear in dl.serialization.get_safe_globals()
    dl.serialization.clear_safe_globals()
    assert dl.serialization.get_safe_globals() == []


LM_SCRIPT = '''
import numpy as np

rng = np.random.default_rng(0)
tokens = torch.from_numpy(rng.integers(0, 11, size=(200,)))

def batchify(data, bsz):
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    return data.view(bsz, -1).t().contiguous()

class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Embedding(11, 6)
        self.rnn = nn.LSTM(6, 5, 2)
        self.norm = nn.BatchNorm1d(5)
        self.decoder = nn.Linear(5, 11)

    def forward(self, x, hidden):
        out, hidden = self.rnn(self.encoder(x), hidden)
        out = self.norm(out.view(-1, 5))
        return F.log_softmax(self.decoder(out), dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        return (weight.new_zeros(2, bsz, 5), weight.new_zeros(2, bsz, 5))

model = LM()
state = {k: torch.from_numpy(rng.standard_normal(tuple(v.shape)).astype(np.float32) * 0.3)
         for k, v in model.state_dict().items() if v.dtype == torch.float32}
state['norm.running_var'] = torch.ones(5)
model.load_state_dict(state, strict=False)
data = batchify(tokens, 4)
criterion = nn.NLLLoss()
hidden = model.init_hidden(4)
lr = 2.0
losses = []
for i in range(0, data.size(0) - 1, 7):
    seq_len = min(7, len(data) - 1 - i)
    x, y = data[i:i + seq_len], data[i + 1:i + 1 + seq_len].view(-1)
    hidden = tuple(h.detach() for h in hidden)
    model.zero_grad()
    out, hidden = model(x, hidden)
    loss = criterion(out, y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
    for p in model.parameters():
        p.data.add_(p.grad, alpha=-lr)
    losses.append(loss.item())
model.eval()
with torch.no_grad():
    out, _ = model(data[:7], model.init_hidden(4))
    pred = torch.where(out.exp().max(dim=1).values > 0.2, 1, 0)
hits = np.array(pred).sum()
report = '{:5.2f} | {:8.2f}'.format(losses[-1], out[0, 0])
'''


def test_language_model_loop_matches_torch(tmp_path, monkeypatch):
    """A word_language_model-style loop (batchify with narrow, detached hidden state, clipping,
    ``p.data.add_(p.grad, alpha=-lr)``) from the same weights: the same losses on both frameworks."""
    got = {}
    for framework in ("deepling", "torch"):
        env = {"torch": importlib.import_module(framework), "nn": importlib.import_module(f"{framework}.nn"),
               "F": importlib.import_module(f"{framework}.nn.functional")}
        exec(compile(LM_SCRIPT, f"<{framework}>", "exec"), env)
        got[framework] = env
    dl, pt = got["deepling"], got["torch"]
    assert len(dl["losses"]) == len(pt["losses"]) == 7
    assert dl["losses"] == pytest.approx(pt["losses"], rel=1e-4, abs=1e-5)
    assert dl["hits"] == pt["hits"]
    assert dl["report"] == pt["report"]


@pytest.mark.parametrize("values", [
    [0.01, 0.01], [0.5, 1.0], [1.0, 2.0], [0.123456, 2.5], [1e-5, 1.0], [1e5, 1.0], [3.14159],
    [1.0, 2000.0], [0.0, 0.0], [float("nan"), 1.5], [-0.5, 3.25], [[1.5, 2.0], [3.0, 4.0]], 0.5, 2.0,
    [1e9, 1.0],
])
def test_float_tensors_print_as_torch(values):
    """``print(tensor)`` shows PyTorch's four fixed decimals (``0.0100``), integers as ``1.``."""
    import torch

    import deepling as dl
    assert repr(dl.tensor(values)) == repr(torch.tensor(values))
