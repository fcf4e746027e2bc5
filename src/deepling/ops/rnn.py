"""Recurrent layers as ONE op per (layer, direction): the whole sequence forward, BPTT backward.

PyTorch's layouts: ``w_ih (G*H, I)``, ``w_hh (G*H, P)``, ``b_ih, b_hh (G*H,)``, gates stacked in
the order LSTM ``i, f, g, o`` (G=4), GRU ``r, z, n`` (G=3), plain RNN one gate (G=1). P is the
recurrent state size: H, or ``proj_size`` for an LSTM with ``w_hr (P, H)``.

  RNN   h' = act(W_ih x + b_ih + W_hh h + b_hh)                         act = tanh or relu
  GRU   r = sig(.), z = sig(.), n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) n + z h
  LSTM  i, f, o = sig(.), g = tanh(.), c' = f c + i g, h' = W_hr (o tanh(c'))  (W_hr = I without proj)

Forward projects the inputs of all time steps with one GEMM before the time loop, then does one
GEMM (``h W_hh^T``) per step for all gates at once, keeping the activated gates. Backward walks
the steps in reverse with the closed-form derivatives, stacking the pre-activation gate gradients
of every step, so that dW_ih, dW_hh, the biases and dx are each ONE GEMM (or sum) after the loop.
"""

from __future__ import annotations

import numpy as np

from deepling.autograd import Function
from deepling.ops import kernels
from deepling.tensor import Tensor

__all__ = ["rnn_direction", "GATES"]

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}


def _dsigmoid(s: np.ndarray) -> np.ndarray:
    return s * (1 - s)


def _lstm_scales(H: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-column factors over the gates i, f, g, o: the pre-activation scale (1/2 for the sigmoid
    gates), and the map tanh -> activation, y * mul + add ((1 + y) / 2 for i, f, o; y for g)."""
    half = np.repeat(np.array([0.5, 0.5, 1.0, 0.5], dtype=dtype), H)
    add = np.repeat(np.array([0.5, 0.5, 0.0, 0.5], dtype=dtype), H)
    return half, half, add


class RecurrentSequence(Function):
    """One direction of one layer over a whole sequence.

    Tensors ``x (T, B, I)``, optional ``h0 (B, P)`` and ``c0 (B, H)`` (zeros when None), weights and
    optional biases / projection; returns a flat buffer holding the states ``(T+1, B, P)`` (the
    initial state in slot 0, or slot T when ``reverse``) followed, for an LSTM, by ``c_T (B, H)``.
    ``rnn_direction`` slices outputs and final states out of it.
    """

    def forward(self, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, mode: str, reverse: bool) -> np.ndarray:
        T, B, _ = x.shape
        G = GATES[mode]
        H, P = w_ih.shape[0] // G, w_hh.shape[1]
        dt = x.dtype
        # Slot of h_t and of h_{t-1} in the state array: time runs up (forward) or down (reverse).
        self.out_off, self.prev_off = (0, 1) if reverse else (1, 0)
        self.order = range(T - 1, -1, -1) if reverse else range(T)
        n_c = B * H if mode == "LSTM" else 0
        buf = np.empty((T + 1) * B * P + n_c, dtype=dt)
        hs = buf[: (T + 1) * B * P].reshape(T + 1, B, P)
        hs[T if reverse else 0] = 0 if h0 is None else h0

        # LSTM: sigmoid(a) = (1 + tanh(a / 2)) / 2, so with the i, f, o rows of the weights and
        # biases halved, ONE tanh over all four gates then a per-column affine map activates them.
        half = _lstm_scales(H, dt)[0] if mode == "LSTM" else None
        # Input projection of every step in one GEMM; fold in the biases that simply add.
        w_in = w_ih if half is None else w_ih * half[:, None]
        gates = np.matmul(x.reshape(T * B, x.shape[2]), w_in.T).reshape(T, B, G * H)
        if b_ih is not None:
            gates += b_ih if half is None else b_ih * half
        if b_hh is not None:
            if mode == "GRU":
                gates[..., : 2 * H] += b_hh[: 2 * H]  # b_hn sits inside r * (...)
            else:
                gates += b_hh if half is None else b_hh * half
        # A contiguous copy of W_hh^T: OpenBLAS's small GEMMs are ~30% slower with a transposed operand.
        w_hh_t = np.ascontiguousarray(w_hh.T if half is None else (w_hh * half[:, None]).T)
        rec = np.empty((B, G * H), dtype=dt)
        out_off, prev_off = self.out_off, self.prev_off

        if mode == "LSTM":
            cs = np.empty((T + 1, B, H), dtype=dt)
            cs[T if reverse else 0] = 0 if c0 is None else c0
            tanh_c = np.empty((T, B, H), dtype=dt)
            h_full = np.empty((T, B, H), dtype=dt) if w_hr is not None else None
            w_hr_t = None if w_hr is None else np.ascontiguousarray(w_hr.T)
            _, mul, add = _lstm_scales(H, dt)
            for t in self.order:
                a = gates[t]
                np.matmul(hs[t + prev_off], w_hh_t, out=rec)
                a += rec
                np.tanh(a, out=a)
                a *= mul
                a += add
                i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
                c = cs[t + out_off]
                np.multiply(f, cs[t + prev_off], out=c)
                c += i * g
                np.tanh(c, out=tanh_c[t])
                if h_full is None:
                    np.multiply(o, tanh_c[t], out=hs[t + out_off])
                else:
                    np.multiply(o, tanh_c[t], out=h_full[t])
                    np.matmul(h_full[t], w_hr_t, out=hs[t + out_off])
            buf[(T + 1) * B * P :] = cs[0 if reverse else T].reshape(-1)
            self.cs, self.tanh_c, self.h_full = cs, tanh_c, h_full
        elif mode == "GRU":
            hn = np.empty((T, B, H), dtype=dt)  # W_hn h + b_hn, needed for dr
            for t in self.order:
                a, h = gates[t], hs[t + prev_off]
                np.matmul(h, w_hh_t, out=rec)
                a[:, : 2 * H] += rec[:, : 2 * H]
                kernels.sigmoid(a[:, : 2 * H], out=a[:, : 2 * H])
                r, z, n = a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]
                if b_hh is None:
                    hn[t] = rec[:, 2 * H :]
                else:
                    np.add(rec[:, 2 * H :], b_hh[2 * H :], out=hn[t])
                n += r * hn[t]
                np.tanh(n, out=n)
                h_new = hs[t + out_off]
                np.subtract(h, n, out=h_new)  # h' = n + z (h - n)
                h_new *= z
                h_new += n
            self.hn = hn
        else:
            for t in self.order:
                h_new = hs[t + out_off]
                np.matmul(hs[t + prev_off], w_hh_t, out=h_new)
                h_new += gates[t]
                if mode == "RNN_TANH":
                    np.tanh(h_new, out=h_new)
                else:
                    np.maximum(h_new, 0, out=h_new)
            gates = None  # the states alone give the derivative
        self.mode, self.x, self.w_ih, self.w_hh, self.w_hr = mode, x, w_ih, w_hh, w_hr
        self.hs, self.gates, self.H = hs, gates, H
        return buf

    def backward(self, gbuf: np.ndarray) -> tuple:
        x, hs, H, mode = self.x, self.hs, self.H, self.mode
        T, B, P = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
        G, dt = GATES[mode], gbuf.dtype
        w_hh = self.w_hh
        g_hs = gbuf[: (T + 1) * B * P].reshape(T + 1, B, P)
        out_off, prev_off = self.out_off, self.prev_off
        dh = np.zeros((B, P), dtype=dt)  # gradient flowing into h_{t-1} from step t
        # Pre-activation gradients of every step: the input side (dxg) and, for a GRU whose n
        # gate sees r * (W_hn h + b_hn), a separate hidden side (dhg); otherwise they coincide.
        dxg = np.empty((T, B, G * H), dtype=dt)
        dhg = dxg
        dc = dhs = None

        if mode == "LSTM":
            dc = gbuf[(T + 1) * B * P :].reshape(B, H).copy()
            dhs = np.empty((T, B, P), dtype=dt) if self.w_hr is not None else None
            # Everything in the step's derivative that does not depend on the incoming gradient,
            # for all steps at once (big vectorized ops instead of many small ones in the loop):
            # da_i = dc g i(1-i), da_f = dc c_prev f(1-f), da_g = dc i (1-g^2), da_o = dh tanh(c) o(1-o),
            # and dc_prev = f dc, with dc = dc_next + dh o (1 - tanh(c)^2).
            a4 = self.gates.reshape(T, B, 4, H)
            i, f, g, o = a4[:, :, 0], a4[:, :, 1], a4[:, :, 2], a4[:, :, 3]
            tc = self.tanh_c
            c_prev = self.cs[prev_off : prev_off + T]
            # In place, gate by gate (no full-size temporaries): s(1-s) as s - s*s, 1-y^2 as 1 - y*y.
            k = np.empty((T, B, 4, H), dtype=dt)
            tmp = np.empty((T, B, H), dtype=dt)
            for q, (s_, m_) in enumerate(((i, g), (f, c_prev), (None, i), (o, tc))):
                kq = k[:, :, q]
                if s_ is None:  # i (1 - g^2)
                    np.multiply(g, g, out=tmp)
                    np.subtract(1, tmp, out=tmp)
                else:  # m s (1 - s)
                    np.subtract(1, s_, out=tmp)
                    tmp *= s_
                np.multiply(tmp, m_, out=kq)
            k_c = np.multiply(tc, tc, out=tmp)
            np.subtract(1, k_c, out=k_c)
            k_c *= o
            da4 = dxg.reshape(T, B, 4, H)
            for t in reversed(self.order):
                dh_t = g_hs[t + out_off] + dh
                if dhs is not None:
                    dhs[t] = dh_t
                    dh_t = np.matmul(dh_t, self.w_hr)
                np.multiply(dh_t, k[t, :, 3], out=da4[t, :, 3])
                dc += dh_t * k_c[t]
                np.multiply(dc[:, None, :], k[t, :, :3], out=da4[t, :, :3])
                dc *= f[t]
                dh = np.matmul(dxg[t], w_hh)
        elif mode == "GRU":
            dhg = np.empty_like(dxg)
            for t in reversed(self.order):
                dh_t = g_hs[t + out_off] + dh
                a, h = self.gates[t], hs[t + prev_off]
                r, z, n = a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]
                dx_, dh_ = dxg[t], dhg[t]
                np.multiply(dh_t, 1 - z, out=dx_[:, 2 * H :])  # through n, then tanh
                dx_[:, 2 * H :] *= 1 - n * n
                np.subtract(h, n, out=dx_[:, H : 2 * H])  # through z
                dx_[:, H : 2 * H] *= dh_t
                dx_[:, H : 2 * H] *= _dsigmoid(z)
                np.multiply(dx_[:, 2 * H :], self.hn[t], out=dx_[:, :H])  # through r
                dx_[:, :H] *= _dsigmoid(r)
                dh_[:, : 2 * H] = dx_[:, : 2 * H]
                np.multiply(dx_[:, 2 * H :], r, out=dh_[:, 2 * H :])
                dh = np.matmul(dh_, w_hh)
                dh += dh_t * z
        else:
            for t in reversed(self.order):
                dh_t = g_hs[t + out_off] + dh
                h_new = hs[t + out_off]
                if mode == "RNN_TANH":
                    np.multiply(dh_t, 1 - h_new * h_new, out=dxg[t])
                else:
                    np.multiply(dh_t, h_new > 0, out=dxg[t])
                dh = np.matmul(dxg[t], w_hh)

        # Everything that does not feed back into the recurrence: one GEMM each, over all steps.
        need = self.needs_input_grad
        flat_x, flat_h = dxg.reshape(T * B, G * H), dhg.reshape(T * B, G * H)
        h_prev = hs[prev_off : prev_off + T].reshape(T * B, P)
        ones = np.ones(T * B, dtype=dt)  # bias gradients as GEMVs: much faster than sum(axis=0)
        db_x = np.matmul(ones, flat_x) if need[5] or need[6] else None
        grads = {
            0: lambda: np.matmul(flat_x, self.w_ih).reshape(x.shape),
            1: lambda: dh,
            2: lambda: dc,
            3: lambda: np.matmul(flat_x.T, x.reshape(T * B, x.shape[2])),
            4: lambda: np.matmul(flat_h.T, h_prev),
            5: lambda: db_x,
            6: lambda: db_x if dhg is dxg else np.matmul(ones, flat_h),
            7: lambda: np.matmul(dhs.reshape(T * B, P).T, self.h_full.reshape(T * B, H)),
        }
        return tuple(grads[k]() if need[k] else None for k in range(8))


def rnn_direction(
    x: Tensor,
    h0: Tensor | None,
    c0: Tensor | None,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None,
    b_hh: Tensor | None,
    w_hr: Tensor | None = None,
    mode: str = "LSTM",
    reverse: bool = False,
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Run one direction of one recurrent layer over ``x (T, B, I)``.

    Returns ``output (T, B, P)``, ``h_n (B, P)`` and, for an LSTM, ``c_n (B, H)`` (else None).
    The caller checks shapes; ``mode`` is one of RNN_TANH, RNN_RELU, GRU, LSTM.
    """
    T, B = x.shape[0], x.shape[1]
    H, P = w_ih.shape[0] // GATES[mode], w_hh.shape[1]
    buf = RecurrentSequence.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, mode, reverse)
    n_h = B * P
    lo = 0 if reverse else n_h
    out = buf[lo : lo + T * n_h].reshape(T, B, P)
    last = 0 if reverse else T * n_h
    h_n = buf[last : last + n_h].reshape(B, P)
    c_n = buf[(T + 1) * n_h :].reshape(B, H) if mode == "LSTM" else None
    return out, h_n, c_n
