"""Autoencoders: tied weights vs a torch twin, PCA-level reconstruction, denoising, sparsity, VAE's KL."""

import math

import numpy as np
import pytest
import torch

import deepling as dl
from deepling import optim
from deepling.models.autoencoder import (
    VAE,
    Autoencoder,
    ContractiveAutoencoder,
    DenoisingAutoencoder,
    SparseAutoencoder,
    conv_autoencoder,
    corrupt,
    dense_autoencoder,
    gaussian_kl,
    kl_bernoulli,
    pca_project,
)


def _low_rank(n=400, d=12, r=3, noise=0.1, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, r)) @ rng.standard_normal((r, d)) + noise * rng.standard_normal((n, d))
    return x.astype(np.float32)


def _train(model, x, steps, lr=1e-2):
    opt = optim.Adam(model.parameters(), lr=lr)
    xt = dl.tensor(x)
    for _ in range(steps):
        loss = model.loss(xt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def test_shapes_and_encode_decode():
    dl.manual_seed(0)
    ae = dense_autoencoder((20, 8, 3), activation="tanh", out_activation="sigmoid")
    x = dl.rand(5, 20)
    z = ae.encode(x)
    assert z.shape == (5, 3)
    assert ae.decode(z).shape == (5, 20)
    np.testing.assert_allclose(ae(x).array, ae.decode(ae.encode(x)).array)
    err = ae.reconstruction_error(x)
    assert err.shape == (5,)
    np.testing.assert_allclose(err.array, ((ae(x).array - x.array) ** 2).mean(1), rtol=1e-5)
    assert ae(x).dtype == np.float32
    with pytest.raises(ValueError, match="dense_autoencoder"):
        dense_autoencoder((20,))
    with pytest.raises(ValueError, match="unknown activation"):
        dense_autoencoder((20, 4), activation="nope")


def test_conv_autoencoder_shapes_and_gradients():
    dl.manual_seed(0)
    ae = conv_autoencoder()
    x = dl.rand(2, 1, 28, 28)
    assert ae.encode(x).shape == (2, 32, 7, 7)
    out = ae(x)
    assert out.shape == (2, 1, 28, 28)
    assert float(out.array.min()) >= 0 and float(out.array.max()) <= 1
    ae.loss(x).backward()
    assert all(p.grad is not None and np.isfinite(p.grad.array).all() for p in ae.parameters())


def test_tied_weights_share_one_parameter_and_match_torch_twin():
    dl.manual_seed(0)
    ae = dense_autoencoder((10, 6, 3), activation="tanh", tied=True)
    assert ae.decoder[0].weight is ae.encoder[2].weight
    assert ae.decoder[2].weight is ae.encoder[0].weight
    assert len(list(ae.parameters())) == 6   # two weights, four biases

    w1, b1 = torch.nn.Parameter(torch.tensor(ae.encoder[0].weight.array)), torch.nn.Parameter(torch.tensor(ae.encoder[0].bias.array))
    w2, b2 = torch.nn.Parameter(torch.tensor(ae.encoder[2].weight.array)), torch.nn.Parameter(torch.tensor(ae.encoder[2].bias.array))
    rng = np.random.default_rng(1)
    d1 = rng.standard_normal(6).astype(np.float32)
    d2 = rng.standard_normal(10).astype(np.float32)
    with dl.no_grad():
        ae.decoder[0].bias.copy_(dl.tensor(d1))
        ae.decoder[2].bias.copy_(dl.tensor(d2))
    tb1, tb2 = torch.nn.Parameter(torch.tensor(d1)), torch.nn.Parameter(torch.tensor(d2))
    x = rng.standard_normal((4, 10)).astype(np.float32)
    tx = torch.tensor(x)
    h = torch.tanh(torch.tanh(tx @ w1.T + b1) @ w2.T + b2)
    tout = torch.tanh(h @ w2 + tb1) @ w1 + tb2
    proj = rng.standard_normal(tout.shape).astype(np.float32)
    (tout * torch.tensor(proj)).sum().backward()

    out = ae(dl.tensor(x))
    (out * dl.tensor(proj)).sum().backward()
    np.testing.assert_allclose(out.array, tout.detach().numpy(), rtol=1e-5, atol=1e-5)
    # the shared weight's gradient is the sum of both uses (encoder and decoder)
    np.testing.assert_allclose(ae.encoder[0].weight.grad.array, w1.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ae.encoder[2].weight.grad.array, w2.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ae.decoder[0].bias.grad.array, tb1.grad.numpy(), rtol=1e-4, atol=1e-5)
    # state_dict lists the shared weight under both names, like torch
    sd = ae.state_dict()
    assert sd["decoder.0.weight"] is sd["encoder.2.weight"] or \
        np.array_equal(sd["decoder.0.weight"].array, sd["encoder.2.weight"].array)
    # a torch state_dict with the shared weight under both names loads back into the tied model
    tsd = {k: torch.tensor(v.array) for k, v in sd.items()}
    twin = dense_autoencoder((10, 6, 3), activation="tanh", tied=True)
    twin.load_state_dict(tsd)
    np.testing.assert_array_equal(twin(dl.tensor(x)).array, ae(dl.tensor(x)).array)
    assert twin.decoder[0].weight is twin.encoder[2].weight


def test_linear_autoencoder_matches_pca_on_low_rank_data():
    x = _low_rank()
    k = 3
    proj, comps, mean = pca_project(x, k)
    pca_mse = float((((proj @ comps + mean) - x) ** 2).mean())
    baseline = float(((x - x.mean(0)) ** 2).mean())
    dl.manual_seed(0)
    ae = dense_autoencoder((12, k), activation="identity", code_activation=None)
    _train(ae, x, 600, lr=2e-2)
    ae_mse = float(ae.reconstruction_error(dl.tensor(x)).array.mean())
    # a linear AE at the same code size can at best match PCA; it gets within a factor 1.2 of it,
    # far below the variance it has to explain
    assert pca_mse <= ae_mse * 1.001
    assert ae_mse < 1.2 * pca_mse, (ae_mse, pca_mse)
    assert ae_mse < 0.01 * baseline


def test_pca_project_orders_components():
    x = _low_rank(r=2)
    proj, comps, _ = pca_project(x, 2)
    assert proj.shape == (400, 2) and comps.shape == (2, 12)
    np.testing.assert_allclose(comps @ comps.T, np.eye(2), atol=1e-5)
    assert proj[:, 0].var() >= proj[:, 1].var()
    with pytest.raises(ValueError, match="pca_project"):
        pca_project(x, 13)


def test_corruption_only_in_training_mode():
    dl.manual_seed(0)
    x = dl.ones(200, 50)
    masked = corrupt(x, "mask", 0.3)
    frac = 1 - float(masked.array.mean())
    assert 0.25 < frac < 0.35
    noisy = corrupt(x, "gaussian", 0.5)
    assert abs(float((noisy.array - 1).std()) - 0.5) < 0.03
    assert masked.dtype == np.float32 and noisy.dtype == np.float32
    with pytest.raises(ValueError, match="corrupt"):
        corrupt(x, "salt", 0.1)
    dae = dense_autoencoder((50, 10), cls=DenoisingAutoencoder, corruption="mask", noise=0.5)
    dae.eval()
    np.testing.assert_array_equal(dae(x).array, dae.decode(dae.encode(x)).array)
    dae.train()
    assert not np.array_equal(dae(x).array, dae.decode(dae.encode(x)).array)


def test_denoising_autoencoder_beats_identity_on_corrupted_inputs():
    # data: binary patterns that are mixtures of a few prototypes (redundant, so missing pixels can be inferred)
    rng = np.random.default_rng(0)
    protos = (rng.random((4, 40)) < 0.5).astype(np.float32)
    x = protos[rng.integers(0, 4, 300)]
    dl.manual_seed(0)
    dae = dense_autoencoder((40, 16), activation="relu", out_activation="sigmoid", cls=DenoisingAutoencoder,
                            corruption="mask", noise=0.3)
    _train(dae, x, 300, lr=1e-2)
    dae.eval()
    dl.manual_seed(1)
    xt = dl.tensor(x)
    xc = corrupt(xt, "mask", 0.3)
    identity_mse = float(((xc.array - x) ** 2).mean())
    with dl.no_grad():
        dae_mse = float(((dae(xc).array - x) ** 2).mean())
    assert dae_mse < 0.5 * identity_mse, (dae_mse, identity_mse)


def test_sparse_penalties():
    dl.manual_seed(0)
    x = dl.rand(8, 10)
    l1 = dense_autoencoder((10, 4), activation="sigmoid", cls=SparseAutoencoder, sparsity="l1", weight=0.1)
    z = l1.encode(x)
    plain = Autoencoder(l1.encoder, l1.decoder)
    np.testing.assert_allclose(float(l1.loss(x).array) - float(plain.loss(x).array),
                               0.1 * np.abs(z.array).sum(1).mean(), rtol=1e-5)
    kl = SparseAutoencoder(l1.encoder, l1.decoder, sparsity="kl", weight=0.5, rho=0.1)
    rho_hat = z.array.mean(0).astype(np.float64)
    want = (0.1 * np.log(0.1 / rho_hat) + 0.9 * np.log(0.9 / (1 - rho_hat))).sum() * 0.5
    np.testing.assert_allclose(float(kl.loss(x).array) - float(plain.loss(x).array), want, rtol=1e-4)
    # KL(rho || rho_hat) vs torch's Bernoulli KL
    r = torch.tensor([0.02, 0.3, 0.7])
    want_kl = torch.distributions.kl_divergence(torch.distributions.Bernoulli(probs=torch.tensor(0.1)),
                                                torch.distributions.Bernoulli(probs=r))
    np.testing.assert_allclose(kl_bernoulli(0.1, dl.tensor(r.numpy())).array, want_kl.numpy(), rtol=1e-5)
    # training with the KL penalty pulls the mean activation towards rho
    _train(kl, x.array, 200, lr=2e-2)
    assert abs(float(kl.encode(x).array.mean()) - 0.1) < abs(float(rho_hat.mean()) - 0.1)
    with pytest.raises(ValueError, match="SparseAutoencoder"):
        SparseAutoencoder(l1.encoder, l1.decoder, sparsity="l2")


def test_contractive_penalty_matches_jacobian_norm():
    dl.manual_seed(0)
    cae = dense_autoencoder((6, 3), activation="sigmoid", cls=ContractiveAutoencoder, weight=1.0)
    x = np.random.default_rng(0).random((4, 6)).astype(np.float32)
    enc = torch.nn.Linear(6, 3)
    enc.load_state_dict({"weight": torch.tensor(cae.encoder[0].weight.array), "bias": torch.tensor(cae.encoder[0].bias.array)})
    jac = [torch.autograd.functional.jacobian(lambda v: torch.sigmoid(enc(v)), torch.tensor(row)) for row in x]
    want = np.mean([float((j ** 2).sum()) for j in jac])
    got = float(cae.penalty(dl.tensor(x), cae.encode(dl.tensor(x))).array)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    with pytest.raises(TypeError, match="ContractiveAutoencoder"):
        dense_autoencoder((6, 3, 2), activation="sigmoid", cls=ContractiveAutoencoder)


def test_vae_loss_decomposes_and_kl_matches_closed_form_and_torch():
    dl.manual_seed(0)
    vae = VAE(in_features=12, hidden=16, latent_dim=4)
    x = dl.rand(6, 12)
    total, rec, kl = vae.loss(x)
    np.testing.assert_allclose(float(total.array), float(rec.array) + float(kl.array), rtol=1e-6)
    total.backward()
    assert all(p.grad is not None for p in vae.parameters())

    mu, logvar = vae.encode(x)
    q = torch.distributions.Normal(torch.tensor(mu.array), torch.tensor(np.exp(0.5 * logvar.array)))
    p = torch.distributions.Normal(torch.zeros(4), torch.ones(4))
    want = torch.distributions.kl_divergence(q, p).sum(1).numpy()
    np.testing.assert_allclose(gaussian_kl(mu, logvar).array, want, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(float(kl.array), want.mean(), rtol=1e-4)

    # closed form vs a Monte-Carlo estimate E_q[log q(z) - log p(z)] for one (mu, logvar)
    m, lv = np.array([0.5, -1.0]), np.array([-0.5, 0.3])
    rng = np.random.default_rng(0)
    z = m + np.exp(lv / 2) * rng.standard_normal((200000, 2))
    logq = -0.5 * (((z - m) ** 2) / np.exp(lv) + lv + math.log(2 * math.pi)).sum(1)
    logp = -0.5 * (z ** 2 + math.log(2 * math.pi)).sum(1)
    closed = float(gaussian_kl(dl.tensor(m[None]), dl.tensor(lv[None])).array[0])
    assert abs((logq - logp).mean() - closed) < 0.02

    # reconstruction term: summed BCE on logits, like torch
    out, _, _ = vae(x)
    want_rec = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(out.array), torch.tensor(x.array),
                                                                    reduction="none").sum(1)
    np.testing.assert_allclose(vae._reconstruction(out, x).array, want_rec.numpy(), rtol=1e-5)
    # eval mode: z = mu (deterministic)
    vae.eval()
    np.testing.assert_array_equal(vae(x)[0].array, vae(x)[0].array)
    assert vae.sample(3).shape == (3, 12) and vae.reconstruction_error(x).shape == (6,)


def test_vae_learns():
    rng = np.random.default_rng(0)
    protos = (rng.random((3, 20)) < 0.5).astype(np.float32)
    x = protos[rng.integers(0, 3, 200)]
    dl.manual_seed(0)
    vae = VAE(20, 32, 2)
    xt = dl.tensor(x)
    first = float(vae.loss(xt)[0].array)
    opt = optim.Adam(vae.parameters(), lr=1e-2)
    for _ in range(150):
        total, _, _ = vae.loss(xt)
        opt.zero_grad()
        total.backward()
        opt.step()
    assert float(vae.loss(xt)[0].array) < 0.5 * first


def test_figures(tmp_path):
    pytest.importorskip("matplotlib")
    from deepling.viz.autoencoder import plot_codes_2d, plot_features, plot_reconstructions

    dl.manual_seed(0)
    ae = dense_autoencoder((64, 16, 5), out_activation="sigmoid")
    x = dl.rand(30, 64)
    plot_reconstructions(x, ae(x), tmp_path / "rec.png", n=6)
    plot_features(ae.encoder[0].weight, tmp_path / "feat.png", image_shape=(8, 8), n=16)
    pts = plot_codes_2d(ae.encode(x), np.arange(30) % 3, tmp_path / "codes.png")
    assert pts.shape == (30, 2)
    for name in ("rec.png", "feat.png", "codes.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="image shape"):
        plot_features(dl.rand(4, 10), tmp_path / "bad.png")
