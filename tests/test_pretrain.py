"""Greedy layer-wise pretraining: one new layer per stage, earlier layers frozen, weights carried over."""

import numpy as np
import pytest

import deepling as dl
from deepling import nn, optim
from deepling.data import DataLoader, TensorDataset
from deepling.models import MLP
from deepling.pretrain import DBN, StackedAutoencoder
from deepling.pretrain.experiment import labeled_subset


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
    sae = StackedAutoencoder((16, 10, 6), activation="relu", corruption=None, tied=False)
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


def test_cli_pretrain_on_digits(capsys, tmp_path):
    from deepling.cli import main

    code = main(["pretrain", "--dataset", "digits", "--layers", "64,16", "--labels", "100", "--epochs-per-layer", "1",
                 "--max-epochs", "3", "--patience", "2", "--seeds", "0", "--finetune-lrs", "0.1", "--activations", "relu",
                 "--out", str(tmp_path), "--no-progress", "--threads", "1"])
    out = capsys.readouterr().out
    assert code == 0
    for name in ("random init", "stacked denoising AE", "DBN", "pseudo-labeling"):
        assert name in out
    assert (tmp_path / "table.md").exists() and (tmp_path / "summary.json").exists()
    assert main(["pretrain", "--out", str(tmp_path), "--table-only"]) == 0
    assert "stacked denoising AE" in capsys.readouterr().out
    assert main(["pretrain", "--dataset", "digits", "--layers", "100,8", "--out", str(tmp_path / "x"), "--no-progress"]) == 1


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


# ---------------------------------------------------------------------------- the recipe's API (issue 19)
def test_tied_stage_lists_the_shared_weight_once_and_updates_it_once():
    dl.manual_seed(0)
    sae = StackedAutoencoder((16, 8, 4))  # defaults: sigmoid, tied, masking, cross-entropy
    assert sae.tied and sae.loss_kind == "bce" and sae.corruption == "mask" and sae.noise == 0.25
    params = sae.stage_parameters(0)
    assert len(params) == 3 and len({id(p) for p in params}) == 3  # W (shared), encoder bias, decoder bias
    assert sae.decoders[0].weight is sae.encoders[0][0].weight
    # one SGD step moves the shared weight by exactly -lr * (its one accumulated gradient)
    x = dl.tensor(_data()[0][:32])
    sae.eval()  # no corruption: the step is deterministic
    loss = sae.stage_loss(0, x)
    w = sae.encoders[0][0].weight
    loss.backward()
    g, before = w.grad.array.copy(), w.array.copy()
    opt = optim.SGD(params, lr=0.1)
    opt.step()
    np.testing.assert_allclose(w.array, before - 0.1 * g, rtol=1e-6, atol=1e-7)


def test_stage_loss_is_per_example_cross_entropy_for_sigmoid_and_mse_otherwise():
    x, _ = _data()
    xt = dl.tensor(x[:64])
    dl.manual_seed(0)
    sae = StackedAutoencoder((16, 8, 4))
    sae.eval()
    with dl.no_grad():
        h = sae.encoders[0](xt).array
        r = sae.reconstruct(1, dl.tensor(h)).array
        want = -(h * np.log(r) + (1 - h) * np.log(1 - r)).sum(1).mean()
        assert float(sae.stage_loss(1, xt).array) == pytest.approx(want, rel=1e-4)
        # the tied decoder uses W^T and its own bias, through a sigmoid
        w, c = sae.encoders[1][0].weight.array, sae.decoders[1].bias.array
        z = sae.encoders[1](dl.tensor(h)).array
        np.testing.assert_allclose(r, 1 / (1 + np.exp(-(z @ w + c))), rtol=1e-5)
    relu = StackedAutoencoder((16, 8), activation="relu", tied=False, corruption="gaussian", noise=0.1)
    assert relu.loss_kind == "mse" and relu.decoder_activation is None and isinstance(relu.decoders[0], nn.Linear)
    with pytest.raises(ValueError, match="bce"):
        StackedAutoencoder((16, 8), activation="relu", loss="bce")
    with pytest.raises(ValueError, match="loss"):
        StackedAutoencoder((16, 8), loss="l1")
    with pytest.raises(ValueError, match="masking"):
        StackedAutoencoder((16, 8), noise=1.5)


def test_masking_corrupts_only_in_training_mode():
    x = dl.tensor(_data()[0][:64])
    dl.manual_seed(0)
    sae = StackedAutoencoder((16, 8), noise=0.5)
    sae.eval()
    a, b = float(sae.stage_loss(0, x).array), float(sae.stage_loss(0, x).array)
    assert a == b
    sae.train()
    assert float(sae.stage_loss(0, x).array) != a


def test_per_stage_budgets_optimizers_and_steps():
    x, _ = _data()
    loader = DataLoader(TensorDataset(x), batch_size=32, shuffle=True)  # 8 batches per epoch
    dl.manual_seed(0)
    sae = StackedAutoencoder((16, 12, 8))
    seen = []

    def adam(params):
        seen.append("adam")
        return optim.Adam(params, lr=1e-2)

    hist = sae.pretrain(loader, epochs_per_layer=[3, 1], optimizer_factory=[adam, None], lr=[None, 0.05], progress=False)
    assert [len(h) for h in hist] == [3, 1] and seen == ["adam"]
    assert hist[0][-1] < hist[0][0]
    # a step budget ends mid-epoch; with only steps, epochs run until it is spent
    assert len(sae.pretrain_layer(1, loader, epochs=5, max_steps=3, progress=False)) == 1
    assert len(sae.pretrain_layer(1, loader, max_steps=20, progress=False)) == 3
    with pytest.raises(ValueError, match="2 stages"):
        sae.pretrain(loader, epochs_per_layer=[1, 1, 1], progress=False)
    with pytest.raises(ValueError, match="epochs or max_steps"):
        sae.pretrain_layer(0, loader, progress=False)
    # the default optimizer is SGD at lr 0.1: its step is -0.1 * grad
    dbn = DBN((16, 8))
    hist = dbn.pretrain(loader, steps_per_layer=4, epochs_per_layer=None, progress=False)
    assert len(hist) == 1 and len(hist[0]) == 1


def test_progress_prints_one_line_per_epoch(capsys):
    x, _ = _data(n=64)
    sae = StackedAutoencoder((16, 8))
    sae.pretrain(DataLoader(TensorDataset(x), batch_size=32), 2, progress=True)
    err = capsys.readouterr()
    lines = [ln for ln in (err.out + err.err).splitlines() if "epoch" in ln and "loss" in ln]
    assert len(lines) >= 2 and "stage 1/1 (16 -> 8, reconstruction cross-entropy) epoch 2/2" in err.out + err.err


def test_to_classifier_with_dropout_keeps_the_weights():
    dl.manual_seed(0)
    sae = StackedAutoencoder((16, 12, 8))
    clf = sae.to_classifier(4, dropout=0.5)
    assert isinstance(clf, MLP) and clf.dropout == 0.5 and isinstance(clf[2], nn.Dropout)
    np.testing.assert_array_equal(clf[0].weight.array, sae.encoders[0][0].weight.array)
    np.testing.assert_array_equal(clf[3].weight.array, sae.encoders[1][0].weight.array)
    clf.eval()
    xt = dl.tensor(_data()[0][:8])
    np.testing.assert_allclose(clf[:5](xt).array, sae(xt).array, rtol=1e-6)
    assert isinstance(DBN((16, 8)).to_classifier(4, dropout=0.2)[2], nn.Dropout)


def test_finetune_stops_early_and_restores_the_best_validation_epoch():
    from deepling.pretrain.finetune import BestValidation, accuracy, finetune, labeled_split

    x, y = _data(n=400)
    idx = labeled_subset(y, 40, seed=0)
    tr, va = labeled_split(y, idx, 0.25, seed=0)
    assert len(va) == 40 and not set(tr) & set(va) and set(tr) | set(va) == set(idx)
    assert np.all(np.bincount(y[va]) == 10)
    dl.manual_seed(0)
    model = MLP(16, [12], 4, dropout=0.2)
    res = finetune(model, x[tr], y[tr], x[va], y[va], lr=0.1, max_epochs=40, patience=5)
    assert 1 <= res.best_epoch <= res.epochs_run <= 40
    # the restored weights are the best epoch's: the validation score recomputed now equals the recorded one
    assert accuracy(model, x[va], y[va]) == pytest.approx(res.val_accuracy)
    assert res.history["val_accuracy"][res.best_epoch - 1] == pytest.approx(res.val_accuracy)
    assert res.epochs_run == 40 or res.epochs_run - res.best_epoch == 5
    # ties in accuracy are broken by the lower validation loss
    cb = BestValidation(patience=2)

    class T:
        model, stop_training = MLP(2, [2], 2), False

    cb.on_epoch_end(T, 0, {"val_accuracy": 0.9, "val_loss": 0.5})
    cb.on_epoch_end(T, 1, {"val_accuracy": 0.9, "val_loss": 0.4})
    cb.on_epoch_end(T, 2, {"val_accuracy": 0.9, "val_loss": 0.45})
    assert cb.best_epoch == 1 and not T.stop_training
    cb.on_epoch_end(T, 3, {"val_accuracy": 0.8, "val_loss": 0.1})
    assert T.stop_training
    with pytest.raises(ValueError, match="val_fraction"):
        labeled_split(y, idx, 1.5)


def test_pseudo_labeling_adds_confident_labels_and_never_lowers_validation():
    from deepling.pretrain.finetune import finetune, labeled_split, pseudo_label

    x, y = _data(n=600)
    idx = labeled_subset(y, 10, seed=0)
    tr, va = labeled_split(y, idx, 0.2, seed=0)
    rest = np.setdiff1d(np.arange(600), idx)
    dl.manual_seed(0)
    model = MLP(16, [12], 4)
    res = finetune(model, x[tr], y[tr], x[va], y[va], lr=0.1, max_epochs=20, patience=5)
    log = pseudo_label(model, x[tr], y[tr], x[va], y[va], x[rest], threshold=0.5, rounds=2, max_epochs=3, patience=2)
    assert len(log) == 2 and all(0 < r["pseudo_labels"] <= len(rest) for r in log)
    assert log[0]["val_accuracy"] >= res.val_accuracy and log[1]["val_accuracy"] >= log[0]["val_accuracy"]


def test_semi_supervised_experiment_small_end_to_end(tmp_path):
    from deepling.pretrain.experiment import Recipe, run_semi_supervised, summarize

    x, y = _data(n=400)
    xt, yt = _data(n=200, seed=1)
    recipe = Recipe(layers=(16, 12, 8), pretrain_epochs=1, finetune_lrs=(0.1,), activations=("relu", "sigmoid"),
                    max_epochs=5, patience=2, shared_pretraining=True)
    runs = run_semi_supervised((x, y, xt, yt), labels=(40,), seeds=(0, 1), recipe=recipe, out=tmp_path, progress=False)
    assert {(r.method, r.seed) for r in runs} == {(m, s) for m in ("random", "sdae", "dbn", "pseudo") for s in (0, 1)}
    assert sum(r.method == "random" for r in runs) == 4  # 2 activations x 1 lr x 2 seeds
    assert all(0 <= r.test_accuracy <= 1 for r in runs)
    assert len(list((tmp_path / "weights").iterdir())) == 2  # one SDAE and one DBN, shared by both seeds
    rows = summarize(runs)
    assert [r["method"] for r in rows] == ["random", "sdae", "dbn", "pseudo"] and all(len(r["seeds"]) == 2 for r in rows)
    # a rerun with the same out reuses every run (same numbers, nothing retrained)
    again = run_semi_supervised((x, y, xt, yt), labels=(40,), seeds=(0, 1), recipe=recipe, out=tmp_path, progress=False)
    assert sorted((r.method, r.seed, r.test_accuracy, r.seconds) for r in again) == \
           sorted((r.method, r.seed, r.test_accuracy, r.seconds) for r in runs)
    with pytest.raises(ValueError, match="unknown methods"):
        run_semi_supervised((x, y, xt, yt), labels=(40,), methods=("magic",), recipe=recipe)
    with pytest.raises(ValueError, match="other settings .*dropout"):
        run_semi_supervised((x, y, xt, yt), labels=(40,), seeds=(0,), recipe=Recipe(**{**recipe.__dict__, "dropout": 0.2}),
                            out=tmp_path, progress=False)


def test_summarize_picks_each_seeds_cell_by_validation_not_by_test():
    from deepling.pretrain.experiment import Run, format_table, summarize

    def run(cfg, seed, test, val, loss=0.5):
        return Run(1000, "random", {"lr": cfg}, seed, test, val, 1, 1.0, {"val_loss": loss})

    runs = [run(0.1, 0, 0.95, 0.80), run(0.03, 0, 0.90, 0.85),   # seed 0: validation picks lr 0.03
            run(0.1, 1, 0.93, 0.90), run(0.03, 1, 0.91, 0.90, loss=0.7)]  # seed 1: tie on accuracy, lower loss wins
    (row,) = summarize(runs)
    assert row["picked_configs"] == [{"lr": 0.03}, {"lr": 0.1}]
    assert row["test_accuracy"] == [0.90, 0.93] and abs(row["mean"] - 0.915) < 1e-12
    assert row["by_test_config"] == {"lr": 0.1} and abs(row["by_test_mean"] - 0.94) < 1e-12  # the optimistic reference
    assert "lr=0.03 / lr=0.1" in format_table([row])
