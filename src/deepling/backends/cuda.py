"""``deepling.backends.cuda``: CUDA is not built into deepling; ``matmul.allow_tf32`` is stored and ignored."""

from types import SimpleNamespace

__all__ = ["is_built", "matmul"]

matmul = SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True)


def is_built() -> bool:
    return False
