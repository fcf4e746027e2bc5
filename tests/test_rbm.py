"""RBM: free energy vs brute-force enumeration, CD/PCD gradients, Gibbs sampling, learning."""

import itertools

import numpy as np
import pytest

import deepling as dl
from deepling import optim
from deepling.models.rbm import RBM


def _random_rbm(nv=4, nh=3, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    rbm = RBM(nv, nh)
    with dl.no_grad():
        rbm.weight.copy_(dl.tensor(rng.standard_normal((nh, nv)).astype(np.float32)))
        rbm.visible_bias.copy_(dl.tensor(rng.standard_normal(nv).astype(np.float32)))
        rbm.hidden_bias.copy_(dl.tensor(rng.standard_normal(nh).astype(np.float32)))
    return rbm


def _states(n):
    return np.array(list(itertools.product([0, 1], repeat=n)), dtype=np.float32)


def test_free_energy_matches_brute_force_sum_over_hidden_states():
    rbm = _random_rbm()
    V, H = _states(4), _states(3)
    W, b, c = (p.array.astype(np.float64) for p in (rbm.weight, rbm.visible_bias, rbm.hidden_bias))
    # E(v, h) = -v.b - h.c - h W v for every (v, h) pair
    E = -(V @ b)[:, None] - (H @ c)[None, :] - np.einsum("hj,ji,vi->vh", H, W, V)
    np.testing.assert_allclose(rbm.energy(np.repeat(V, 8, 0), np.tile(H, (16, 1))).array.reshape(16, 8), E,
                               rtol=1e-5, atol=1e-5)
    F_brute = -np.log(np.exp(-E).sum(1))
    F = rbm.free_energy(V).array
    np.testing.assert_allclose(F, F_brute, rtol=1e-5, atol=1e-5)
    # log Z by enumeration two ways: over (v, h) and over v with the free energy
    logZ_joint = np.log(np.exp(-E).sum())
    logZ_free = np.log(np.exp(-F.astype(np.float64)).sum())
    assert logZ_free == pytest.approx(logZ_joint, rel=1e-5)
    # p(h=1|v) from the enumeration equals the sigmoid formula
    p_joint = np.exp(-E) / np.exp(-E).sum(1, keepdims=True)
    np.testing.assert_allclose(rbm.sample_h(V)[0].array, p_joint @ H, rtol=1e-5, atol=1e-6)


def test_cd_loss_gradient_is_the_cd_update():
    rbm = _random_rbm(6, 4, seed=1)
    rng = np.random.default_rng(0)
    v0 = (rng.random((10, 6)) < 0.5).astype(np.float32)
    dl.manual_seed(5)
    loss = rbm.cd_loss(v0, k=1)
    loss.backward()
    dl.manual_seed(5)
    vk = rbm.gibbs(v0, 1).array   # the same chain, same random numbers
    ph0, phk = rbm.prob_h(v0), rbm.prob_h(vk)
    n = len(v0)
    # d/dW [mean F(v0) - mean F(vk)] = -(<h v>_data - <h v>_model)
    np.testing.assert_allclose(rbm.weight.grad.array, -(ph0.T @ v0 - phk.T @ vk) / n, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(rbm.visible_bias.grad.array, -(v0 - vk).mean(0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(rbm.hidden_bias.grad.array, -(ph0 - phk).mean(0), rtol=1e-4, atol=1e-6)


def test_gibbs_sampling_shapes_and_values():
    dl.manual_seed(0)
    rbm = RBM(7, 5)
    v = (np.random.default_rng(0).random((9, 7)) < 0.5).astype(np.float32)
    p, h = rbm.sample_h(v)
    assert p.shape == h.shape == (9, 5)
    assert set(np.unique(h.array)) <= {0.0, 1.0}
    pv, vs = rbm.sample_v(h)
    assert pv.shape == vs.shape == (9, 7)
    vk = rbm.gibbs(v, 5)
    assert vk.shape == (9, 7) and vk.dtype == np.float32 and set(np.unique(vk.array)) <= {0.0, 1.0}
    np.testing.assert_array_equal(rbm.gibbs(v, 0).array, v)
    assert rbm(dl.tensor(v)).shape == (9, 5)
    assert rbm.free_energy(v).shape == (9,) and rbm.pseudo_likelihood(v).shape == (9,)
    assert rbm.reconstruction_error(v).shape == (9,)
    with pytest.raises(ValueError, match=r"RBM.gibbs: expected input of shape \(N, 7\)"):
        rbm.gibbs(np.zeros((2, 6), np.float32))
    with pytest.raises(ValueError, match="k must be"):
        rbm.cd_loss(v, k=0)


def test_gibbs_chain_samples_the_model_distribution():
    # long chains of a tiny RBM visit visible states with frequencies exp(-F(v)) / Z
    rbm = _random_rbm(3, 2, seed=2)
    V = _states(3)
    F = rbm.free_energy(V).array.astype(np.float64)
    p = np.exp(-F) / np.exp(-F).sum()
    dl.manual_seed(0)
    chains = rbm.gibbs(np.zeros((4000, 3), np.float32), 30).array
    codes = chains @ np.array([4, 2, 1], np.float32)
    freq = np.bincount(codes.astype(int), minlength=8) / len(codes)
    np.testing.assert_allclose(freq, p, atol=0.03)


def _bars(n=64, seed=0):
    # 3x3 "bars": one full row or column on; a tiny binary data set with structure
    rng = np.random.default_rng(seed)
    pats = []
    for i in range(3):
        r = np.zeros((3, 3), np.float32)
        r[i] = 1
        pats += [r.ravel(), r.T.ravel()]
    return np.array(pats)[rng.integers(0, 6, n)]


@pytest.mark.parametrize("persistent", [False, True])
def test_cd_training_lowers_reconstruction_error_and_raises_pseudo_likelihood(persistent):
    x = _bars()
    dl.manual_seed(0)
    rbm = RBM(9, 6)
    err0 = float(rbm.reconstruction_error(x).array.mean())
    dl.manual_seed(1)
    pl0 = float(np.mean([rbm.pseudo_likelihood(x).array.mean() for _ in range(20)]))
    opt = optim.SGD(rbm.parameters(), lr=0.3, momentum=0.5)
    for _ in range(300):
        loss = rbm.cd_loss(x, k=1, persistent=persistent)
        opt.zero_grad()
        loss.backward()
        opt.step()
    err = float(rbm.reconstruction_error(x).array.mean())
    dl.manual_seed(1)
    pl = float(np.mean([rbm.pseudo_likelihood(x).array.mean() for _ in range(20)]))
    assert err < 0.25 * err0, (err, err0)
    assert pl > pl0
    # the data states are more probable than the average state
    V = _states(9)
    assert float(rbm.free_energy(x).array.mean()) < float(rbm.free_energy(V).array.mean())


def test_rbm_weight_layout_and_state_dict():
    rbm = RBM(5, 3)
    assert rbm.weight.shape == (3, 5)
    assert list(rbm.state_dict()) == ["weight", "visible_bias", "hidden_bias"]
    other = RBM(5, 3)
    other.load_state_dict(rbm.state_dict())
    np.testing.assert_array_equal(other.weight.array, rbm.weight.array)
    with pytest.raises(ValueError, match="RBM"):
        RBM(0, 3)


def test_persistent_chain_survives_batches_of_other_sizes():
    dl.manual_seed(0)
    rbm = RBM(9, 4)
    x = _bars(10)
    rbm.cd_loss(x, persistent=True)
    chain = rbm._chain
    assert chain.shape == (10, 9)
    loss = rbm.cd_loss(x[:3], persistent=True)   # a smaller last batch keeps the same particles going
    assert rbm._chain.shape == (10, 9) and rbm._chain is not chain
    loss.backward()
    assert rbm.weight.grad.shape == (4, 9)
    rbm.reset_parameters()
    assert rbm._chain is None
