"""Optional tensor inputs of a Function keep their gradient slot when an earlier one is absent.

The convention (``deepling.autograd.Function``): every positional argument of ``apply`` has a
slot, an absent optional tensor is passed as None, and ``backward`` returns gradient i for
argument i. Each case below leaves out an optional tensor that comes BEFORE one that is given;
a gradient shifted by one position would land on the wrong input and fail the comparison.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import deepling as dl
from deepling.autograd import Function
from deepling.nn import functional as F
from deepling.ops.rnn import rnn_direction
from oracle import check_grad, check_op


class _ScaleShift(Function):
    """y = x * w + b with w optional (None: y = x + b)."""

    def forward(self, x, w, b):
        self.x, self.w = x, w
        return x + b if w is None else x * w + b

    def backward(self, g):
        gx = g if self.w is None else g * self.w
        gw = None if self.w is None else g * self.x
        return gx, gw, 3 * g  # b's gradient scaled by 3, so that a shift to another input shows


def test_absent_optional_tensor_keeps_the_slot_of_the_next():
    x = dl.tensor([1.0, 2.0], requires_grad=True)
    b = dl.tensor([0.5, 0.5], requires_grad=True)
    y = _ScaleShift.apply(x, None, b)
    assert y.grad_fn.needs_input_grad == (True, False, True)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.array, [1.0, 1.0])
    np.testing.assert_array_equal(b.grad.array, [3.0, 3.0])


def test_non_tensor_arguments_have_slots_too():
    x = dl.tensor([1.0, 2.0], requires_grad=True)
    b = dl.tensor([0.5, 0.5], requires_grad=True)
    w = dl.tensor([2.0, 2.0])  # a constant: no gradient wanted
    y = _ScaleShift.apply(x, w, b)
    assert y.grad_fn.needs_input_grad == (True, False, True)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.array, [2.0, 2.0])
    np.testing.assert_array_equal(b.grad.array, [3.0, 3.0])


# (name, torch function, deepling function, input shapes): the first optional tensor is left out.
_TORCH_CASES = [
    ("layer_norm without weight", lambda x, b: torch.nn.functional.layer_norm(x, (5,), None, b),
     lambda x, b: F.layer_norm(x, (5,), None, b), [(3, 5), (5,)]),
    ("instance_norm without weight", lambda x, b: torch.nn.functional.instance_norm(x, weight=None, bias=b),
     lambda x, b: F.instance_norm(x, weight=None, bias=b), [(3, 4, 5), (4,)]),
    ("batch_norm without weight", lambda x, b: torch.nn.functional.batch_norm(x, None, None, None, b, True),
     lambda x, b: F.batch_norm(x, None, None, None, b, True), [(6, 4), (4,)]),
    # PyTorch has no gradient for weight and pos_weight: compare the others (gradcheck below has them).
    ("bce_with_logits with pos_weight only",
     lambda x, y, p: torch.nn.functional.binary_cross_entropy_with_logits(x, y, pos_weight=p.detach()),
     lambda x, y, p: F.binary_cross_entropy_with_logits(x, y, pos_weight=p.detach()), [(4, 3), (4, 3), (3,)]),
]


@pytest.mark.parametrize("name,t_fn,d_fn,shapes", _TORCH_CASES, ids=[c[0] for c in _TORCH_CASES])
def test_optional_inputs_against_torch(name, t_fn, d_fn, shapes):
    check_op(t_fn, shapes, d_fn, low=0.1, high=0.9)


# Finite differences where PyTorch cannot serve (no gradient for pos_weight; group_norm's backward
# without a weight fails in PyTorch 2.13).
_GRADCHECK_CASES = [
    ("group_norm without weight", lambda x, b: F.group_norm(x, 2, None, b), [(3, 4, 5), (4,)]),
    ("bce_with_logits with pos_weight only",
     lambda x, y, p: F.binary_cross_entropy_with_logits(x, y, pos_weight=p), [(4, 3), (4, 3), (3,)]),
    ("bce without weight", lambda x, y: F.binary_cross_entropy(x, y), [(4, 3), (4, 3)]),
    ("linear without bias", lambda x, w: F.linear(x, w), [(4, 3), (2, 3)]),
    ("conv2d without bias", lambda x, w: F.conv2d(x, w, padding=1), [(1, 2, 4, 4), (3, 2, 3, 3)]),
]


@pytest.mark.parametrize("name,fn,shapes", _GRADCHECK_CASES, ids=[c[0] for c in _GRADCHECK_CASES])
def test_optional_inputs_gradcheck(name, fn, shapes):
    check_grad(fn, shapes, low=0.1, high=0.9)


def test_recurrent_sequence_without_h0_sends_c0_its_gradient():
    T, B, I, H = 3, 2, 4, 5

    def f(x, c0, w_ih, w_hh, b_hh):
        out, h_n, c_n = rnn_direction(x, None, c0, w_ih, w_hh, None, b_hh, None, "LSTM")
        return out.sum() + (c_n * c_n).sum()

    check_grad(f, [(T, B, I), (B, H), (4 * H, I), (4 * H, H), (4 * H,)], low=-0.5, high=0.5)


def test_attention_without_mask_and_with_a_float_mask():
    def f(q, k, v, m):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=m)

    check_grad(f, [(2, 3, 4), (2, 5, 4), (2, 5, 4), (3, 5)])
    check_grad(lambda q, k, v: F.scaled_dot_product_attention(q, k, v), [(2, 3, 4), (2, 5, 4), (2, 5, 4)])
