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
