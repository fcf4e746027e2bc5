"""The command line tried as a new user would: each misuse gets one clear line, never a traceback."""

import json

import pytest

from deepling import cli
from deepling.data import download
from deepling.data.datasets import mnist as mnist_module
from deepling.train.checkpoint import load_checkpoint


def _run(args, capsys):
    code = cli.main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    assert cli.main(["train", "--epochs", "1", "--hidden", "16", "--out", str(out), "--no-progress", "--no-plots"]) == 0
    return out


def test_evaluate_on_a_folder_says_which_file_to_pass(trained, capsys):
    code, _, err = _run(["evaluate", str(trained)], capsys)
    assert code == 1 and "is a folder, not a checkpoint file; did you mean" in err and "Traceback" not in err


def test_evaluate_ignores_a_data_dir_stored_in_the_checkpoint(trained, tmp_path, capsys, monkeypatch):
    # a crafted checkpoint names a folder elsewhere: evaluate must neither read nor create it
    state = load_checkpoint(trained / "checkpoint.ckpt", restore_rng=False)
    victim = tmp_path / "victim" / "some" / "where"
    state["config"]["data_dir"] = str(victim)
    from deepling import save

    save(state, tmp_path / "crafted.ckpt")
    code, _, err = _run(["evaluate", str(tmp_path / "crafted.ckpt")], capsys)
    assert code == 0, err
    assert not (tmp_path / "victim").exists()


def test_resume_with_another_model_says_what_the_checkpoint_holds(trained, capsys):
    code, _, err = _run(["train", "--epochs", "2", "--hidden", "32", "--out", str(trained), "--resume",
                         "--no-progress", "--no-plots"], capsys)
    assert code == 1 and "--resume:" in err and "holds a mlp" in err and "model_options differs" in err


@pytest.mark.parametrize("args, fragment", [
    (["train", "--model", "mlp", "--dataset", "text"], "--dataset text trains a language model"),
    (["train", "--model", "char-lstm"], "--model char-lstm is a language model"),
])
def test_model_and_dataset_mismatch_messages(args, fragment, capsys):
    code, _, err = _run(args, capsys)
    assert code == 1 and fragment in err


def test_lesson_unknown_option_lists_the_options(capsys):
    code, _, err = _run(["lesson", "run", "gd_learning_rate", "--set", "lr=5"], capsys)
    assert code == 1 and "unknown option 'lr'" in err and "steps=10" in err


def test_lesson_option_of_the_wrong_kind(capsys):
    code, _, err = _run(["lesson", "run", "gd_learning_rate", "--set", "steps=2.5"], capsys)
    assert code == 1 and "expects an integer" in err


def test_lesson_show_lists_options_with_defaults(capsys):
    code, out, _ = _run(["lesson", "show", "gd_learning_rate"], capsys)
    assert code == 0 and "steps" in out and "10" in out and "rates" in out


def test_lesson_plot_into_a_missing_folder_fails_before_running(tmp_path, capsys):
    code, out, err = _run(["lesson", "run", "gd_learning_rate", "--plot", str(tmp_path / "nope" / "x.png")], capsys)
    assert code == 1 and "does not exist" in err and "final" not in out  # nothing ran


def test_failed_download_does_not_suggest_download_again(tmp_path, monkeypatch, capsys):
    def offline(url, timeout=30.0):
        raise OSError("offline")

    monkeypatch.setattr(mnist_module, "_fetch", offline)
    code, _, err = _run(["train", "--dataset", "mnist", "--data-dir", str(tmp_path), "--epochs", "1"], capsys)
    assert code == 1 and "could not download" in err and "download=True" not in err
    assert not list(tmp_path.rglob("*.part"))  # nothing half-written


def test_downloads_are_https_only():
    with pytest.raises(ValueError, match="https only"):
        download.fetch("http://example.invalid/x.gz")
    for cls in (mnist_module.MNIST, mnist_module.FashionMNIST):
        assert all(m.startswith("https://") for m in cls.mirrors)


def test_history_of_the_trained_run_is_json(trained):
    assert json.loads((trained / "history.json").read_text())["epochs"] == [1]


def test_ctrl_c_in_the_first_epoch_says_no_checkpoint_and_draws_nothing(tmp_path, capsys, monkeypatch):
    import sys

    fit_module = sys.modules["deepling.train.fit"]
    real_fit = fit_module.fit

    def interrupted_fit(*args, **kwargs):
        class Stop(fit_module.Callback):
            def on_batch_end(self, trainer, batch, loss):
                raise KeyboardInterrupt

        kwargs["callbacks"] = list(kwargs.get("callbacks", ())) + [Stop()]
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(fit_module, "fit", interrupted_fit)
    code, out, err = _run(["train", "--epochs", "2", "--out", str(tmp_path / "r"), "--no-progress"], capsys)
    assert code == 130
    assert "no checkpoint exists" in err and "Number of columns" not in err and "Traceback" not in err
    assert not (tmp_path / "r" / "curves.png").exists()
