"""Greedy layer-wise pretraining: one new layer per stage, earlier layers frozen, weights carried over."""

import numpy as np
import pytest

import deepling as dl
from deepling import nn, optim
from deepling.data import DataLoader, TensorDataset
from deepling.models import MLP
from deepling.pretrain import DBN, StackedAutoencoder
from deepling.pretrain.experiment import format_table, labeled_subset, run_experiment


def _data(n=256, d=16, seed=0):
    rng = np.random.default_rng(seed)
    protos = rng.random((4, d)).astype(np.float32)
    y = rng.integers(0, 4, n)
    x = np.clip(protos[y] + 0.1 * rng.standard_normal((n, d)), 0, 1).astype(np.float32)
    return x, y.astype(np.int64)


def _snapshot(module):
    # .array.copy(): np.array(tensor, copy=True) does not copy (Tensor.__array__ ignores copy)
    return {k: v.array.copy() for k, v in module.state_dict().items()}


def _same(a, b):
    return all(np.array_equal(a[k], b[k]) for k in a)


def test_greedy_schedule_trains_one_layer_per_stage_with_earlier_layers_frozen():
    x, _ = _data()
    loader = DataLoader(TensorDataset(x), batch_size=32, shuffle=True)
    dl.manual_seed(0)
    sae = StackedAutoencoder((16, 12, 8, 4), activation="sigmoid", corruption="mask", noise=0.2)
    given = []

    def factory(params):
        given.append(params)
        return optim.AdamW(params, lr=1e-2, weight_decay=0.1)  # weight decay would move any stray parameter

    for k in range(3):
        before_enc = [_snapshot(e) for e in sae.encoders]
        before_dec = [_snapshot(d) for d in sae.decoders]
        losses = sae.pretrain_layer(k, loader, 3, factory, progress=False)
        assert len(losses) == 3 and losses[-1] < losses[0]
        # the optimizer saw exactly stage k's encoder and decoder
        assert {id(p) for p in given[-1]} == {id(p) for p in sae.encoders[k].parameters()} | \
               {id(p) for p in sae.decoders[k].parameters()}
        for j in range(3):
            changed_e = not _same(before_enc[j], _snapshot(sae.encoders[j]))
            changed_d = not _same(before_dec[j], _snapshot(sae.decoders[j]))
            assert changed_e == (j == k) and changed_d == (j == k), (k, j)


def test_pretrain_reports_losses_per_stage_and_stage_input_is_the_frozen_code():
    x, _ = _data()
    loader = DataLoader(TensorDataset(x, np.zeros(len(x), np.int64)), batch_size=64)  # (x, y) batches work too
    dl.manual_seed(0)
    sae = StackedAutoencoder((16, 10, 6), activation="relu")
    hist = sae.pretrain(loader, 2, lambda ps: optim.Adam(ps, lr=1e-2), progress=False)
    assert len(hist) == 2 and all(len(h) == 2 for h in hist) and sae.history == hist
    # stage 2's loss is the reconstruction of stage 1's codes
    xt = dl.tensor(x)
    with dl.no_grad():
        h1 = sae.encoders[0](xt)
        want = float(((sae.decoders[1](sae.encoders[1](h1)).array - h1.array) ** 2).mean())
        assert float(sae.stage_loss(1, xt).array) == pytest.approx(want, rel=1e-5)
    assert sae(xt).shape == (256, 6)
    enc = sae.encoder()
    assert isinstance(enc, nn.Sequential) and len(enc) == 4
    np.testing.assert_array_equal(enc(xt).array, sae(xt).array)
    with pytest.raises(ValueError, match="out of range"):
        sae.pretrain_layer(2, loader, 1, lambda ps: optim.SGD(ps, lr=0.1), progress=False)
    with pytest.raises(ValueError, match="StackedAutoencoder"):
        StackedAutoencoder((16,))


def test_to_classifier_keeps_pretrained_weights_and_fine_tunes():
    x, y = _data()
    dl.manual_seed(0)
    sae = StackedAutoencoder((16, 12, 8), activation="relu", corruption="gaussian", noise=0.1)
    sae.pretrain(DataLoader(TensorDataset(x), batch_size=32), 1, lambda ps: optim.Adam(ps, lr=1e-2), progress=False)
    clf = sae.to_classifier(4)
    assert isinstance(clf, MLP)
    # same layout and state_dict keys as an MLP of the same shape built from scratch
    assert list(clf.state_dict()) == list(MLP(16, [12, 8], 4).state_dict())
    for i, enc in zip((0, 2), sae.encoders):
        np.testing.assert_array_equal(clf[i].weight.array, enc[0].weight.array)
        np.testing.assert_array_equal(clf[i].bias.array, enc[0].bias.array)
        assert clf[i].weight is not enc[0].weight           # a copy: fine-tuning leaves the stack alone
    xt = dl.tensor(x)
    np.testing.assert_allclose(clf[:4](xt).array, sae(xt).array, rtol=1e-6)
    assert clf(xt).shape == (256, 4)

    # all layers trainable by default
    before = _snapshot(sae)
    opt = optim.Adam(clf.parameters(), lr=1e-2)
    loss = nn.functional.cross_entropy(clf(xt), dl.tensor(y))
    loss.backward()
    opt.step()
    assert not np.array_equal(clf[0].weight.array, sae.encoders[0][0].weight.array)
    assert _same(before, _snapshot(sae))

    # frozen encoder: only the head learns
    frozen = sae.to_classifier(4, freeze_encoder=True)
    trainable = [p for p in frozen.parameters() if p.requires_grad]
    assert [id(p) for p in trainable] == [id(frozen[4].weight), id(frozen[4].bias)]
    w0 = frozen[0].weight.array.copy()
    opt = optim.Adam(trainable, lr=1e-2)
    first = float(nn.functional.cross_entropy(frozen(xt), dl.tensor(y)).array)
    for _ in range(50):
        loss = nn.functional.cross_entropy(frozen(xt), dl.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    np.testing.assert_array_equal(frozen[0].weight.array, w0)
    assert float(loss.array) < first


def test_dbn_pretrains_greedily_and_initializes_an_mlp():
    x, y = _data()
    loader = DataLoader(TensorDataset(x), batch_size=32, shuffle=True)
    dl.manual_seed(0)
    dbn = DBN((16, 12, 6))
    before = _snapshot(dbn.rbms[1])
    errs0 = dbn.pretrain_layer(0, loader, 4, lambda ps: optim.SGD(ps, lr=0.1, momentum=0.5), progress=False)
    assert errs0[-1] < errs0[0]
    assert _same(before, _snapshot(dbn.rbms[1]))
    first = _snapshot(dbn.rbms[0])
    dbn.pretrain_layer(1, loader, 2, lambda ps: optim.SGD(ps, lr=0.1), cd_k=2, persistent=True, progress=False)
    assert _same(first, _snapshot(dbn.rbms[0]))
    assert not _same(before, _snapshot(dbn.rbms[1]))
    clf = dbn.to_classifier(4)
    assert isinstance(clf, MLP) and clf.activation == "sigmoid"
    for i, rbm in zip((0, 2), dbn.rbms):
        np.testing.assert_array_equal(clf[i].weight.array, rbm.weight.array)
        np.testing.assert_array_equal(clf[i].bias.array, rbm.hidden_bias.array)
    xt = dl.tensor(x)
    np.testing.assert_allclose(clf[:4](xt).array, dbn(xt).array, rtol=1e-5)
    hist = dbn.pretrain(loader, 1, lambda ps: optim.SGD(ps, lr=0.05), progress=False)
    assert [len(h) for h in hist] == [1, 1]


def test_labeled_subset_is_balanced_and_seeded():
    y = np.repeat(np.arange(10), 50)
    idx = labeled_subset(y, 5, seed=3)
    assert len(idx) == 50 and np.all(np.bincount(y[idx]) == 5)
    np.testing.assert_array_equal(idx, labeled_subset(y, 5, seed=3))
    assert not np.array_equal(idx, labeled_subset(y, 5, seed=4))
    with pytest.raises(ValueError, match="fewer than"):
        labeled_subset(y, 51, seed=0)


def test_run_experiment_small_end_to_end():
    x, y = _data(n=400)
    xt, yt = _data(n=200, seed=1)
    res = run_experiment((x, y, xt, yt), layers=(16, 12, 8), labels=40, epochs_per_layer=1, finetune_epochs=5,
                         seeds=(0,), progress=False)
    assert len(res) == 1
    r = res[0]
    assert 0 <= r.baseline_accuracy <= 1 and 0 <= r.pretrained_accuracy <= 1
    assert len(r.pretrain_losses) == 2
    table = format_table(res, (16, 12, 8), 40, 1, 5)
    assert "| 0 |" in table and f"{100 * r.baseline_accuracy:.2f}%" in table
    # deterministic for a fixed seed
    again = run_experiment((x, y, xt, yt), layers=(16, 12, 8), labels=40, epochs_per_layer=1, finetune_epochs=5,
                           seeds=(0,), progress=False)[0]
    assert (again.baseline_accuracy, again.pretrained_accuracy) == (r.baseline_accuracy, r.pretrained_accuracy)
    with pytest.raises(ValueError, match="multiple"):
        run_experiment((x, y, xt, yt), layers=(16, 8), labels=41, seeds=(0,), progress=False)


def test_cli_pretrain_on_digits(capsys):
    from deepling.cli import main

    code = main(["pretrain", "--dataset", "digits", "--layers", "64,32,16", "--labels", "100", "--epochs-per-layer", "1",
                 "--finetune-epochs", "2", "--seeds", "0", "--no-progress", "--threads", "1"])
    out = capsys.readouterr().out
    assert code == 0
    assert "random init" in out and "pretrained" in out and "| 0 |" in out
    assert main(["pretrain", "--dataset", "digits", "--layers", "100,8", "--no-progress"]) == 1


def test_autoencoder_mse_and_figures(tmp_path):
    pytest.importorskip("matplotlib")
    from deepling.pretrain.experiment import autoencoder_mse

    rng = np.random.default_rng(0)
    protos = rng.random((3, 64)).astype(np.float32)
    x, xt = protos[rng.integers(0, 3, 300)], protos[rng.integers(0, 3, 100)]
    data = (x, np.zeros(300, np.int64), xt, np.arange(100) % 3)
    mean_baseline = float(((xt - x.mean(0)) ** 2).mean())
    mse = autoencoder_mse(data, (64, 16, 4), epochs=20, batch_size=32, lr=1e-2, progress=False,
                          figures=tmp_path)
    assert mse < 0.5 * mean_baseline
    assert {p.name for p in tmp_path.iterdir()} == {"reconstructions.png", "features.png", "codes_2d.png"}
