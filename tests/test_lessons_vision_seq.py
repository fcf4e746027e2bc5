"""Claims of lessons 22-29 (convolution, depth, recurrence, attention, pruning), asserted with fixed seeds
on small data: the embedded 8x8 digits (source="digits"), so they run anywhere, offline, in seconds."""

import pytest

from deepling import lessons


def _run_and_plot(name, tmp_path, **options):
    r = lessons.run(name, **options)
    assert r["verdict"]["holds"], r["verdict"]
    pytest.importorskip("matplotlib")
    path = tmp_path / f"{name}.png"
    lessons.plot(name, r, str(path))
    assert path.stat().st_size > 5000
    return r


def test_receptive_field_formula_matches_input_gradient(tmp_path):
    r = _run_and_plot("receptive_field", tmp_path)
    assert r["verdict"]["holds"], r["verdict"]
    assert r["formula"] == [3, 5, 6, 10, 14, 16, 32]  # r_l = r_{l-1} + (k_l - 1) * prod of earlier strides
    assert r["measured"] == r["formula"] and r["measured_is_square"] and r["field_is_filled"]
    # One input's gradient through a max-pool reaches only the window winners: a strict subset.
    assert min(r["one_input_fraction_of_field"]) < 0.9


def test_weight_sharing(tmp_path):
    r = _run_and_plot("weight_sharing", tmp_path, canvas=20)
    assert r["verdict"]["holds"], r["verdict"]
    assert r["conv_params"] == r["conv_params_formula"] == 80
    assert r["dense_params"] == r["dense_params_formula"] and r["dense_params"] > 1000 * r["conv_params"]
    assert r["conv_equivariance_max_diff"] < 1e-6 * r["conv_map_scale"]  # shift in, shift out
    assert r["dense_equivariance_max_diff"] > 0.3 * r["dense_map_scale"]
    assert r["peak_moves_by"] == r["shift"]


def test_max_pool_invariance(tmp_path):
    r = _run_and_plot("max_pool_invariance", tmp_path, source="digits", n=200)
    assert r["verdict"]["holds"], r["verdict"]
    for key in ("pixels", "conv_features"):
        change = r[key]
        assert change[1] < 0.8 * change[0] and change[2] < change[1], key  # wider pools, smaller change


def test_feature_hierarchy(tmp_path):
    r = _run_and_plot("feature_hierarchy", tmp_path, source="digits", epochs=5)
    assert r["verdict"]["holds"], r["verdict"]
    assert r["test_accuracy"] > 0.85
    assert r["relu1_shape"] == [8, 8, 8] and r["relu2_shape"] == [16, 4, 4] and r["pool2_shape"] == [16, 2, 2]
    assert r["relu2_fraction_active"] < r["relu1_fraction_active"]  # deeper maps are sparser


def test_resnet_depth(tmp_path):
    r = _run_and_plot("resnet_depth", tmp_path, source="digits", depths=(2, 10, 20), train_depth=20, steps=150, n_train=1000)
    assert r["verdict"]["holds"], r["verdict"]
    plain, res = r["plain_input_grad_norm"], r["residual_input_grad_norm"]
    assert all(b < 0.1 * a for a, b in zip(plain, plain[1:]))  # decays geometrically with depth
    assert all(b > 0.5 * a for a, b in zip(res, res[1:]))  # the identity path keeps it
    assert r["residual_train_loss_final"] < 0.5 * r["plain_train_loss_final"]
    # Kaiming init stops the decay, but the plain net still trains worse than the residual one.
    kaiming = r["plain_kaiming_input_grad_norm"]
    assert min(kaiming) > 0.1 * max(kaiming)
    assert r["residual_train_loss_final"] < 0.5 * r["plain_kaiming_train_loss_final"]


def test_rnn_vs_lstm_memory(tmp_path):
    r = _run_and_plot("rnn_vs_lstm_memory", tmp_path, lengths=(5, 30))
    assert r["verdict"]["holds"], r["verdict"]
    rnn, lstm = r["rnn_grad_first_step_init"], r["lstm_grad_first_step_init"]
    assert rnn[1] < 1e-4 * rnn[0]  # the RNN's gradient to step 0 vanishes with T
    assert lstm[1] > 1e3 * rnn[1]
    assert r["rnn_accuracy"][0] > 0.9 and r["lstm_accuracy"][0] > 0.9
    assert r["rnn_accuracy"][1] < r["chance"] + 0.1 and r["lstm_accuracy"][1] > 0.9  # the RNN stays at chance


def test_attention_alignment(tmp_path):
    r = _run_and_plot("attention_alignment", tmp_path, steps=150)
    assert r["verdict"]["holds"], r["verdict"]
    assert r["by_hand_vs_sdpa_max_diff"] < 1e-5 and r["by_hand_row_sum_max_error"] < 1e-6
    assert r["by_hand_weight_above_diagonal_max"] == 0 and r["largest_weight_is_best_aligned_key"]
    assert r["train_loss_final"] < 0.5 * r["train_loss_first"]
    assert r["gpt_weight_above_diagonal_max"] == 0 and r["gpt_row_sum_max_error"] < 1e-5
    assert r["causal_past_logits_change"] == 0 and r["causal_future_logits_change"] > 0
    assert r["outside_window_max_logit_change"] == 0 and r["inside_window_min_logit_change"] > 0


def test_pruning_and_alternatives(tmp_path):
    r = _run_and_plot("pruning_and_alternatives", tmp_path, source="digits", components=(2, 10, 40))
    assert r["verdict"]["holds"], r["verdict"]
    acc = dict(zip(r["sparsities"], r["pruned_accuracy"]))
    assert r["mlp_accuracy"] > 0.9
    assert acc[0.5] > r["mlp_accuracy"] - 0.02  # half the weights go for free
    assert acc[0.8] > r["mlp_accuracy"] - 0.1
    assert acc[0.99] < 0.5  # without retraining, extreme sparsity breaks the net
    pca = r["pca_accuracy"]
    assert pca[0] < pca[1] < pca[2] + 0.01 and pca[1] > r["mlp_accuracy"] - 0.03  # 10 of 64 dims nearly suffice
    assert r["svm_accuracy"] > 0.95
