"""Each lesson's claim, asserted with fixed seeds on small data (and its figure written once)."""

import math

import numpy as np
import pytest

from deepling import lessons


def _plot(name, result, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / f"{name}.png"
    lessons.plot(name, result, str(path))
    assert path.stat().st_size > 5000


def test_all_lessons_are_listed_in_course_order():
    assert len(lessons.NAMES) == 29 and len(set(lessons.NAMES)) == 29
    for name in lessons.available():
        assert lessons.summary(name), f"{name} has no claim in its docstring"


def test_verdict_holds_only_when_every_check_does():
    from deepling.lessons import format_verdict, verdict

    v = verdict("A claim. More text.", [("a = 1 (must be 1)", True), ("b = 2 (must be < 2)", False)])
    assert v["claim"] == "A claim." and v["holds"] is False and [e["holds"] for e in v["evidence"]] == [True, False]
    lines = format_verdict(v)
    assert lines[0] == "verdict: does not hold" and "[FAILS] b = 2" in lines[-1]
    assert format_verdict(verdict("C.", [("x", 1)]))[0] == "verdict: holds"
    with pytest.raises(ValueError, match="at least one check"):
        verdict("C.", [])


def test_unknown_lesson_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown lesson"):
        lessons.run("no_such_lesson")


def test_perceptron_xor():
    r = lessons.run("perceptron_xor")
    assert r["verdict"]["holds"], r["verdict"]
    assert r["perceptron_AND_accuracy"] == 1.0 and r["perceptron_OR_accuracy"] == 1.0
    assert r["perceptron_XOR_accuracy"] <= 0.75  # no line separates XOR
    assert r["mlp_XOR_accuracy"] == 1.0 and r["mlp_XOR_final_loss"] < 0.01


def test_linear_collapse():
    r = lessons.run("linear_collapse")
    assert r["verdict"]["holds"], r["verdict"]
    assert r["max_diff_linear"] < 1e-4 * r["relu_output_std"]
    assert r["relu_best_linear_fit_rmse"] > 0.1 * r["relu_output_std"]


def test_activations():
    r = lessons.run("activations", depth=10)
    assert r["verdict"]["holds"], r["verdict"]
    assert r["sigmoid_derivative_max_error"] < 1e-6 and r["tanh_derivative_max_error"] < 1e-6
    assert r["relu_derivative_max_error"] == 0 and r["sigmoid_derivative_peak"] == pytest.approx(0.25, abs=1e-4)
    # Ten sigmoid layers shrink the input gradient by orders of magnitude; ReLU with He init does not.
    assert r["grad_norm_sigmoid_10_layers"] < 1e-3 * r["grad_norm_sigmoid_1_layer"]
    assert r["grad_norm_relu_10_layers"] > 0.1 * r["grad_norm_relu_1_layer"]


def test_gd_learning_rate():
    r = lessons.run("gd_learning_rate", steps=10)
    assert r["verdict"]["holds"], r["verdict"]
    assert r["lr=1.0"][:3] == [2.0, -14.0, 98.0]
    assert all(abs(abs(x) - 2.0) < 1e-12 for x in r["lr=0.25"]) and r["lr=0.25"][1] == -2.0
    p24 = r["lr=0.24"]
    assert all(np.sign(a) != np.sign(b) for a, b in zip(p24, p24[1:])) and abs(p24[-1]) < abs(p24[0])
    p10 = r["lr=0.1"]
    assert all(0 < b < a for a, b in zip(p10, p10[1:]))


def test_gd_stopping():
    r = lessons.run("gd_stopping")
    assert r["verdict"]["holds"], r["verdict"]
    its = r["iterations"]
    assert all(b > a for a, b in zip(its, its[1:]))
    steps = np.diff(its)
    assert steps.max() - steps.min() <= 3  # a constant number of extra iterations per decade of eps


def test_local_minima_restarts(tmp_path):
    r = lessons.run("local_minima_restarts", starts=10, xor_seeds=8)
    assert r["verdict"]["holds"], r["verdict"]
    _plot("local_minima_restarts", r, tmp_path)
    assert r["distinct_minima"] == [-1.3, 1.13]
    assert r["best_of_restarts_x"] == pytest.approx(-1.3008, abs=1e-3)
    losses = np.array(r["xor_final_losses"])
    assert losses.min() < 0.01 and losses.max() > 0.1  # some inits solve XOR, some get stuck


def test_backprop_vs_numeric():
    r = lessons.run("backprop_vs_numeric")
    assert r["verdict"]["holds"], r["verdict"]
    assert max(r["max_rel_error"]) < 1e-6
    # decided by counting passes, never by wall-clock time
    assert r["numeric_passes"] == [2 * p for p in r["params"]] and r["backprop_passes"] == [2] * len(r["params"])


def test_manual_backprop():
    r = lessons.run("manual_backprop")
    assert r["verdict"]["holds"], r["verdict"]
    assert r["loss_by_hand"] == pytest.approx(r["loss_autograd"], rel=1e-12)
    assert r["max_diff_dW_h"] < 1e-12 and r["max_diff_dW_o"] < 1e-12


def test_loss_examples():
    r = lessons.run("loss_examples")
    assert r["verdict"]["holds"], r["verdict"]
    assert r["mse_example"] == pytest.approx(0.25)
    assert r["cross_entropy_example"] == pytest.approx(-math.log(0.7), rel=1e-6)
    assert r["cross_entropy_example"] == pytest.approx(0.357, abs=5e-4)
    assert abs(r["dMSE_dz_saturated"]) < 1e-4 and r["dCE_dz_saturated"] == pytest.approx(-1.0, abs=1e-3)


def test_entropy_kl():
    r = lessons.run("entropy_kl")
    assert r["verdict"]["holds"], r["verdict"]
    assert r["self_information_bits"] == [1.0, 2.0, 3.0, 3.0] and r["entropy_bits"] == pytest.approx(1.75)
    assert abs(r["H(p,q)-H(p)-KL"]) < 1e-12
    assert r["ce_minus_kl_along_training_max_dev"] < 1e-9
    np.testing.assert_allclose(r["q_after_ce"], [0.5, 0.25, 0.125, 0.125], atol=1e-4)


# Lessons whose figure is drawn here from their default run (fast); the others draw theirs in their own test.
# With DEEPLING_CHECK_FIGURES=1 (tests/conftest.py) every figure is also checked for readability.
PLOTTED_WITH_DEFAULTS = ["perceptron_xor", "gd_learning_rate", "entropy_kl", "linear_collapse", "activations",
                         "gd_stopping", "backprop_vs_numeric", "manual_backprop", "loss_examples", "softmax_properties",
                         "init_scale", "weight_decay_identity", "dropout_scaling", "normalizations"]


def test_every_available_lesson_plots(tmp_path):
    pytest.importorskip("matplotlib")
    for name in PLOTTED_WITH_DEFAULTS:
        path = tmp_path / f"{name}.png"
        lessons.plot(name, lessons.run(name), str(path))
        assert path.stat().st_size > 5000


def test_softmax_properties():
    r = lessons.run("softmax_properties")
    assert r["verdict"]["holds"], r["verdict"]
    assert r["min_probability"] >= 0 and r["max_abs_row_sum_minus_1"] < 1e-6
    assert r["max_change_after_adding_123"] < 1e-5
    np.testing.assert_allclose(r["softmax_of_1e4_logits"], [[1, 0, 0], [0.5, 0.5, 0]], atol=1e-7)
    assert np.isfinite(r["log_softmax_of_1e4_logits"]).all() and r["naive_formula_gives_nan"]


def test_init_scale():
    r = lessons.run("init_scale", depth=10, width=128)
    assert r["verdict"]["holds"], r["verdict"]
    assert r["zero_init_hidden_unit_spread"] == 0.0 and r["random_init_hidden_unit_spread"] > 0.1
    assert r["tanh_N(0,0.01)_std_per_layer"][-1] < 1e-6  # vanishes
    assert r["tanh_N(0,1)_fraction_saturated"] > 0.7  # saturates
    xavier = r["tanh_xavier_tanh_gain_std_per_layer"]
    assert 0.3 < xavier[-1] < 0.95 and xavier[-1] > 0.7 * xavier[2]  # keeps its spread
    assert r["tanh_xavier_std_per_layer"][-1] > 1e3 * r["tanh_N(0,0.01)_std_per_layer"][-1]
    kaiming = r["relu_kaiming_std_per_layer"]
    assert 0.3 < kaiming[-1] < 3.0
    assert r["xavier_max_abs_sample"] <= r["xavier_bound_formula"]
    assert r["xavier_std_sample"] == pytest.approx(r["xavier_std_formula"], rel=0.03)


def test_weight_decay_identity():
    r = lessons.run("weight_decay_identity")
    assert r["verdict"]["holds"], r["verdict"]
    assert r["penalty_sgd_vs_formula_max_diff"] < 1e-6 and r["weight_decay_option_vs_formula_max_diff"] < 1e-6
    assert r["adam_l2_vs_adamw_max_diff_after_5_steps"] > 1e-4


def test_dropout_scaling():
    r = lessons.run("dropout_scaling", p=0.5)
    assert r["verdict"]["holds"], r["verdict"]
    assert r["mean_inverted_train"] == pytest.approx(r["mean_input"], rel=0.01)
    assert r["fraction_zeroed"] == pytest.approx(0.5, abs=0.01) and r["eval_is_identity"]
    assert r["mean_classic_train"] == pytest.approx(r["mean_classic_test"], rel=0.01)


def test_normalizations():
    r = lessons.run("normalizations")
    assert r["verdict"]["holds"], r["verdict"]
    for name in ("batch", "layer", "instance", "group"):
        assert r[f"{name}_max_diff_vs_axes_formula"] < 1e-5, name
    assert r["bn_running_mean_avg"] == pytest.approx(1.0, abs=0.2)  # the data's mean, learned as a running average
    assert r["bn_train_vs_eval_max_diff"] > 0.05  # eval uses running stats, not the batch's


# The lessons below use real MNIST when ../shared/data is present; tests pin the embedded 8x8
# digits (source="digits") so they run anywhere, offline, in seconds.


def test_overfitting(tmp_path):
    # On the 8x8 digits the rise is gentle (on 500 MNIST images it is ~30%: see docs/lessons.md).
    r = lessons.run("overfitting", source="digits", n_train=200, n_test=500, epochs=30, lr=1e-2, hidden=(256, 256))
    assert r["verdict"]["holds"], r["verdict"]
    import deepling.lessons.overfitting as lesson

    figures = []
    real_save = lesson.save
    lesson.save = lambda fig, path, *a: (figures.append(fig), real_save(fig, path, *a))
    try:
        _plot("overfitting", r, tmp_path)
    finally:
        lesson.save = real_save
    best = [a for ax in figures[0].axes for a in ax.get_children() if str(a.get_label()).startswith("best epoch")]
    assert len(best) == 1 and list(best[0].get_xdata()) == [r["large_best_epoch"]] * 2  # the curves mark it
    assert r["large_train_loss_final"] < 0.005  # memorized
    assert r["large_test_loss_final"] > 100 * r["large_train_loss_final"]  # a wide generalization gap
    assert r["large_test_loss_final"] > 1.02 * r["large_test_loss_best"] and r["large_best_epoch"] < 30
    assert r["small_train_loss_final"] > 100 * r["large_train_loss_final"]  # the tiny model underfits


def test_l1_vs_l2(tmp_path):
    r = lessons.run("l1_vs_l2", source="digits", n_train=800, epochs=10)
    assert r["verdict"]["holds"], r["verdict"]
    _plot("l1_vs_l2", r, tmp_path)
    assert r["l1_fraction_near_zero"] > 3 * r["l2_fraction_near_zero"]
    assert r["l1_fraction_near_zero"] > 3 * r["none_fraction_near_zero"]
    assert r["l2_mean_abs_weight"] < r["none_mean_abs_weight"]


def test_mnist_3b1b_on_digits(tmp_path):
    r = lessons.run("mnist_3b1b", source="digits", epochs=25)
    assert r["verdict"]["holds"], r["verdict"]
    _plot("mnist_3b1b", r, tmp_path)
    assert r["test_accuracy"] > 0.9
    assert r["top_1_percent_share_of_squared_gradient"] > 0.05  # 1% of the weights carry far more than 1%


def test_pixel_redundancy_on_digits(tmp_path):
    r = lessons.run("pixel_redundancy", source="digits")
    assert r["verdict"]["holds"], r["verdict"]
    _plot("pixel_redundancy", r, tmp_path)
    assert r["fraction_low_variance_pixels"] > 0.1
    corr = r["correlation_by_distance"]
    assert corr[0] > 0.25 and corr[0] > max(corr[1:]) + 0.2


def test_autoencoder_vs_pca_on_digits(tmp_path):
    r = lessons.run("autoencoder_vs_pca", source="digits", code=8, epochs=30)
    assert r["verdict"]["holds"], r["verdict"]
    _plot("autoencoder_vs_pca", r, tmp_path)
    assert r["linear_ae_test_mse"] < 1.25 * r["pca_test_mse"]
    assert r["linear_ae_test_mse"] > 0.95 * r["pca_test_mse"]  # PCA is the optimum for a linear code
    assert r["nonlinear_ae_test_mse"] < r["pca_test_mse"]


def test_cli_lists_and_runs_a_lesson(tmp_path, capsys):
    from deepling.cli import main

    assert main(["lesson", "list"]) == 0
    out = capsys.readouterr().out
    assert "gd_learning_rate" in out and "perceptron_xor" in out
    png = tmp_path / "lr.png"
    assert main(["lesson", "run", "gd_learning_rate", "--set", "steps=3", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "[2, -14, 98, -686]" in out and png.exists()
    assert "verdict: holds" in out and "claim: The learning rate decides" in out and "[ok] lr=1.0" in out
    assert main(["lesson", "run", "no_such_lesson"]) == 1


def test_pretraining_few_labels_on_digits(tmp_path):
    # the lesson's digits defaults: 50 labels, 1,437 unlabeled images (the digits training split), 100 epochs per layer
    r = lessons.run("pretraining_few_labels", source="digits")
    assert r["verdict"]["holds"], r["verdict"]
    _plot("pretraining_few_labels", r, tmp_path)
    assert r["labels"] == 50 and r["unlabeled"] == 1437
    assert r["verdict"]["holds"], r["verdict"]
    assert r["seeds_where_pretraining_wins"] >= 2
    assert r["mean_pretrained"] > r["mean_random_init"] + 0.01
