"""RNN / GRU / LSTM and their cells against torch (outputs, final states, every gradient),
float64 gradchecks, and small "learns" tasks."""

import numpy as np
import pytest
import torch

import deepling as dl
from deepling.autograd import gradcheck
from oracle import check_grad, check_module, check_op

LAYERS = ["RNN", "GRU", "LSTM"]


def _pair(name, *args, **kw):
    """The torch layer and ours, with torch's weights loaded through load_state_dict."""
    t = getattr(torch.nn, name)(*args, **kw)
    m = getattr(dl.nn, name)(*args, **kw)
    assert list(m.state_dict()) == list(t.state_dict())
    for (_, p), (_, q) in zip(m.named_parameters(), t.named_parameters()):
        assert p.shape == tuple(q.shape) and p.dtype == np.float32
    m.load_state_dict(t.state_dict())
    return t, m


def _as_tuple(s):
    return s if isinstance(s, tuple) else (s,)


def _compare_run(t, m, x, states=None, atol=2e-5):
    """Run both with the same inputs (and initial states), compare outputs and final states, then,
    under a random projection of all of them, input/state gradients and every parameter gradient."""

    def call(mod, x, *st):
        return mod(x, None if not st else (st if len(st) > 1 else st[0]))

    check_module(m, t, [x, *(states or ())], call=call, copy_weights=False, atol=atol, rtol=1e-5,
                 grad_atol=atol * 5, grad_rtol=1e-4)


def _states(name, layers, dirs, batch, hidden, proj=0, seed=3):
    rng = np.random.default_rng(seed)
    shape = (layers * dirs,) + ((batch,) if batch else ()) + (proj or hidden,)
    h = rng.standard_normal(shape).astype(np.float32)
    if name != "LSTM":
        return (h,)
    return h, rng.standard_normal(shape[:-1] + (hidden,)).astype(np.float32)


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("num_layers,bidirectional,batch_first,with_states", [
    (1, False, False, False),
    (1, False, False, True),
    (2, False, True, True),
    (1, True, False, True),
    (2, True, True, False),
])
def test_layer_matches_torch(name, num_layers, bidirectional, batch_first, with_states):
    torch.manual_seed(0)
    t, m = _pair(name, 5, 6, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first)
    T, B = 7, 3
    x = np.random.default_rng(1).standard_normal((B, T, 5) if batch_first else (T, B, 5)).astype(np.float32)
    states = _states(name, num_layers, 2 if bidirectional else 1, B, 6) if with_states else None
    _compare_run(t, m, x, states)


@pytest.mark.parametrize("name,kw", [
    ("RNN", {"nonlinearity": "relu", "num_layers": 2}),
    ("RNN", {"bias": False}),
    ("GRU", {"bias": False, "bidirectional": True}),
    ("LSTM", {"bias": False}),
    ("LSTM", {"proj_size": 3}),
    ("LSTM", {"proj_size": 2, "num_layers": 2, "bidirectional": True}),
])
def test_layer_options_match_torch(name, kw):
    torch.manual_seed(1)
    t, m = _pair(name, 4, 5, **kw)
    x = np.random.default_rng(2).standard_normal((6, 2, 4)).astype(np.float32)
    dirs = 2 if kw.get("bidirectional") else 1
    _compare_run(t, m, x, _states(name, kw.get("num_layers", 1), dirs, 2, 5, kw.get("proj_size", 0)))


@pytest.mark.parametrize("name", LAYERS)
def test_unbatched_input_matches_torch(name):
    torch.manual_seed(2)
    t, m = _pair(name, 3, 4, num_layers=2)
    x = np.random.default_rng(4).standard_normal((5, 3)).astype(np.float32)
    _compare_run(t, m, x, _states(name, 2, 1, 0, 4))


@pytest.mark.parametrize("name", LAYERS)
def test_weights_transfer_back_to_torch(name):
    m = getattr(dl.nn, name)(3, 4, num_layers=2, bidirectional=True)
    m.flatten_parameters()  # accepted (a no-op) so that torch scripts port unchanged
    t = getattr(torch.nn, name)(3, 4, num_layers=2, bidirectional=True)
    t.load_state_dict({k: torch.tensor(v.numpy()) for k, v in m.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 2, 3)).astype(np.float32)
    np.testing.assert_allclose(m(dl.tensor(x))[0].array, t(torch.tensor(x))[0].detach().numpy(), atol=2e-5)
    bound = 1 / np.sqrt(4)
    assert all(np.abs(p.array).max() <= bound for p in m.parameters())


@pytest.mark.parametrize("name", ["RNNCell", "GRUCell", "LSTMCell"])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_cells_match_torch(name, batched, bias):
    torch.manual_seed(3)
    t, m = _pair(name, 4, 5, bias=bias)
    rng = np.random.default_rng(5)
    lead = (3,) if batched else ()
    x = rng.standard_normal(lead + (4,)).astype(np.float32)
    states = [rng.standard_normal(lead + (5,)).astype(np.float32) for _ in range(2 if name == "LSTMCell" else 1)]
    check_module(m, t, [x, *states], call=lambda mod, x, *st: mod(x, st if len(st) > 1 else st[0]),
                 copy_weights=False, atol=1e-5, grad_atol=1e-5)
    tx, dx = torch.tensor(x), dl.tensor(x)
    # Without a state the cells start from zeros, as torch's do.
    np.testing.assert_allclose(_as_tuple(m(dx))[0].array, _as_tuple(t(tx))[0].detach().numpy(), atol=1e-5)


@pytest.mark.parametrize("name", ["RNNCell", "GRUCell", "LSTMCell"])
def test_cells_gradcheck(name):
    dl.manual_seed(0)
    cell = getattr(dl.nn, name)(3, 2).double()
    rng = np.random.default_rng(0)
    x, h, c = (dl.tensor(rng.uniform(-1, 1, s), dtype=dl.float64, requires_grad=True) for s in [(2, 3), (2, 2), (2, 2)])

    def run(x, h, c, *params):  # the parameters are perturbed in place by gradcheck
        out = cell(x, (h, c) if name == "LSTMCell" else h)
        return dl.cat([o.reshape(-1) for o in _as_tuple(out)])

    assert gradcheck(run, [x, h, c, *cell.parameters()])


@pytest.mark.parametrize("mode", ["RNN_TANH", "RNN_RELU", "GRU", "LSTM"])
@pytest.mark.parametrize("reverse", [False, True])
def test_sequence_op_gradcheck(mode, reverse):
    from deepling.ops.rnn import GATES, rnn_direction

    G, H, P = GATES[mode], 3, 3

    def run(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        out, h_n, c_n = rnn_direction(x, h0, c0 if mode == "LSTM" else None, w_ih, w_hh, b_ih, b_hh,
                                      None, mode=mode, reverse=reverse)
        parts = [out.reshape(-1), h_n.reshape(-1)] + ([c_n.reshape(-1)] if c_n is not None else [])
        return dl.cat(parts)

    check_grad(run, [(4, 2, 2), (2, P), (2, H), (G * H, 2), (G * H, P), (G * H,), (G * H,)], low=-1.0, high=1.0)


def test_lstm_projection_gradcheck():
    from deepling.ops.rnn import rnn_direction

    def run(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr):
        out, h_n, c_n = rnn_direction(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, mode="LSTM", reverse=True)
        return dl.cat([out.reshape(-1), h_n.reshape(-1), c_n.reshape(-1)])

    check_grad(run, [(3, 2, 2), (2, 2), (2, 3), (12, 2), (12, 2), (12,), (12,), (2, 3)], low=-1.0, high=1.0)


def test_float64_layer_keeps_dtype():
    m = dl.nn.GRU(3, 4, num_layers=2).double()
    out, h = m(dl.randn(5, 2, 3, dtype=dl.float64))
    assert out.dtype == np.float64 and h.dtype == np.float64


def test_bad_input_errors():
    m = dl.nn.LSTM(3, 4)
    with pytest.raises(ValueError, match="LSTM.*input_size"):
        m(dl.randn(5, 2, 7))
    with pytest.raises(ValueError, match="LSTM.*h_0"):
        m(dl.randn(5, 2, 3), (dl.zeros(1, 3, 4), dl.zeros(1, 2, 4)))
    with pytest.raises(ValueError, match="LSTM"):
        m(dl.randn(2, 5, 2, 3))
    with pytest.raises(ValueError, match="GRUCell"):
        dl.nn.GRUCell(3, 4)(dl.randn(2, 4))
    with pytest.raises(ValueError, match="nonlinearity"):
        dl.nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="proj_size"):
        dl.nn.LSTM(3, 4, proj_size=4)


def _train_seq_task(reverse: bool, steps: int) -> float:
    """A one-directional LSTM reads L random digits, then L blanks during which it must emit the
    digits again (copied or reversed): the answer exists only in its memory."""
    dl.manual_seed(0)
    rng = np.random.default_rng(0)
    V, L, H = 5, 4, 64
    emb, lstm, head = dl.nn.Embedding(V + 1, 8), dl.nn.LSTM(8, H, batch_first=True), dl.nn.Linear(H, V)
    params = [p for mod in (emb, lstm, head) for p in mod.parameters()]
    state = [(np.zeros_like(p.array), np.zeros_like(p.array)) for p in params]
    for step in range(1, steps + 1):
        seq = rng.integers(0, V, size=(64, L))
        inputs = np.concatenate([seq, np.full_like(seq, V)], axis=1)  # token V = "now repeat"
        target = seq[:, ::-1] if reverse else seq
        out, _ = lstm(emb(dl.tensor(inputs)))
        loss = _xent(head(out[:, L:]), target)
        for p in params:
            p.grad = None
        loss.backward()
        _adam(params, state, step, lr=1e-2)
    return loss.item()


def _xent(logits, target):
    # log-softmax cross-entropy from core ops (kept local: the fused F.cross_entropy belongs to `nn`)
    lse = logits.logsumexp(-1)
    picked = logits.gather(-1, dl.tensor(np.ascontiguousarray(target)[..., None])).squeeze(-1)
    return (lse - picked).mean()


def _adam(params, state, step, lr, b1=0.9, b2=0.999, eps=1e-8):
    for p, (m, v) in zip(params, state):
        g = p.grad.array
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        p.array -= lr * (m / (1 - b1**step)) / (np.sqrt(v / (1 - b2**step)) + eps)


@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_learns_to_copy_and_reverse(reverse):
    # A uniform guess costs ln 5 = 1.61 nats per digit; recalled digits must be nearly certain.
    assert _train_seq_task(reverse, steps=200) < 0.1


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_matches_torch(batch_first, padding_side):
    from deepling.nn.utils.rnn import pad_sequence

    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((n, 3)).astype(np.float32) for n in (4, 1, 6)]

    def run_torch(*xs):
        return torch.nn.utils.rnn.pad_sequence(list(xs), batch_first=batch_first, padding_value=-1.5, padding_side=padding_side)

    def run_ours(*xs):
        return pad_sequence(list(xs), batch_first=batch_first, padding_value=-1.5, padding_side=padding_side)

    check_op(run_torch, None, run_ours, arrays=arrays)
    with pytest.raises(ValueError, match="pad_sequence"):
        pad_sequence([dl.zeros(2, 3), dl.zeros(2, 4)])


def test_dropout_between_layers():
    dl.manual_seed(0)
    m = dl.nn.LSTM(3, 8, num_layers=2, dropout=0.5)
    x = dl.randn(5, 4, 3)
    eval_out = m.eval()(x)[0].array
    t = torch.nn.LSTM(3, 8, num_layers=2, dropout=0.5).eval()
    t.load_state_dict({k: torch.tensor(v.numpy()) for k, v in m.state_dict().items()})
    np.testing.assert_allclose(eval_out, t(torch.tensor(x.array))[0].detach().numpy(), atol=2e-5)
    m.train()
    train_out = m(x)[0]
    assert not np.allclose(train_out.array, eval_out)
    # One layer: no dropout at all (it only acts between layers), as in torch.
    one = dl.nn.GRU(3, 4, dropout=0.5)
    np.testing.assert_array_equal(one(x)[0].array, one.eval()(x)[0].array)


@pytest.mark.parametrize("name", LAYERS)
def test_backward_twice_with_retain_graph_accumulates(name):
    # Backward must not overwrite what it saved: a second pass gives the same gradients again.
    m = getattr(dl.nn, name)(3, 4)
    out = m(dl.randn(5, 2, 3))[0].sum()
    out.backward(retain_graph=True)
    first = {n: p.grad.array.copy() for n, p in m.named_parameters()}
    out.backward()
    for n, p in m.named_parameters():
        np.testing.assert_allclose(p.grad.array, 2 * first[n], rtol=1e-5, atol=1e-6, err_msg=n)
