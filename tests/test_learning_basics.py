"""Learning, the classic first lessons: a 2-2-1 MLP learns XOR by plain gradient descent (updates
written by hand under no_grad, the way the curriculum derives them), and a single-layer perceptron
with the Step activation and the perceptron rule learns AND and OR but cannot learn XOR (XOR is
not linearly separable)."""

import numpy as np
import pytest
import torch

import deepling as dl
import deepling.nn.functional as F

torch.set_num_threads(1)  # tiny tensors: threads only add overhead on a shared machine

X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
TARGETS = {"AND": [0.0, 0.0, 0.0, 1.0], "OR": [0.0, 1.0, 1.0, 1.0], "XOR": [0.0, 1.0, 1.0, 0.0]}


def _train_xor(lib, net, steps, lr):
    x, y = lib.tensor(X), lib.tensor([[v] for v in TARGETS["XOR"]])
    losses = []
    for _ in range(steps):
        loss = lib.nn.functional.binary_cross_entropy_with_logits(net(x), y)
        net.zero_grad()
        loss.backward()
        with lib.no_grad():
            for p in net.parameters():
                p -= lr * p.grad  # w <- w - eta dJ/dw
        losses.append(loss.item())
    return losses


def test_mlp_2_2_1_learns_xor_with_gradient_descent():
    dl.manual_seed(5)  # 2 hidden units can stall in XOR's local minimum; this seed does not
    net = dl.nn.Sequential(dl.nn.Linear(2, 2), dl.nn.Tanh(), dl.nn.Linear(2, 1))
    twin = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Tanh(), torch.nn.Linear(2, 1))
    twin.load_state_dict({k: torch.tensor(v.array) for k, v in net.state_dict().items()})
    losses = _train_xor(dl, net, steps=1500, lr=1.0)
    assert losses[-1] < 0.01 and losses[-1] < losses[0] / 50
    pred = net(dl.tensor(X)).array[:, 0] > 0
    np.testing.assert_array_equal(pred, np.array(TARGETS["XOR"]) > 0.5)
    # the same descent in PyTorch from the same weights follows the same path
    t_losses = _train_xor(torch, twin, steps=1500, lr=1.0)
    np.testing.assert_allclose(losses[::100], t_losses[::100], rtol=2e-3, atol=1e-5)


def _perceptron(target, epochs=50, lr=1.0):
    """Rosenblatt's rule: w <- w + eta (y - yhat) x, b <- b + eta (y - yhat), one sample at a time."""
    dl.manual_seed(0)
    layer, step = dl.nn.Linear(2, 1), dl.nn.Step(value=1.0)
    x, y = dl.tensor(X), dl.tensor(target)
    history = []
    with dl.no_grad():
        for _ in range(epochs):
            for i in range(4):  # online updates: the rule is defined per example
                err = y[i] - step(layer(x[i]))[0]
                layer.weight += lr * err * x[i]
                layer.bias += lr * err
            history.append(float((step(layer(x))[:, 0] == y).array.mean()))
    return history, layer


@pytest.mark.parametrize("gate", ["AND", "OR"])
def test_perceptron_learns_linearly_separable_gates(gate):
    history, layer = _perceptron(TARGETS[gate])
    assert history[-1] == 1.0
    first = history.index(1.0)
    assert all(a == 1.0 for a in history[first:])  # once separated, the rule stops changing w
    out = layer(dl.tensor(X)).array[:, 0]
    assert np.all((out >= 0) == (np.array(TARGETS[gate]) > 0.5))  # the learned line separates the classes (step(0) = 1)


def test_perceptron_cannot_learn_xor():
    history, _ = _perceptron(TARGETS["XOR"], epochs=200)
    # no line separates XOR: at best 3 of the 4 points are right, in every epoch
    assert max(history) <= 0.75


def test_step_blocks_gradient_descent():
    layer = dl.nn.Linear(2, 1)
    out = F.step(layer(dl.tensor(X)))
    assert not out.requires_grad  # why the perceptron needs its own rule (and MLPs need smooth activations)
