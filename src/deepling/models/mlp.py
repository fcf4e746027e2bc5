"""MLP: the multilayer perceptron, Linear -> activation (-> Dropout) repeated, then a Linear head."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from deepling import nn

__all__ = ["MLP"]


def _activation(activation: str | Callable[[], nn.Module]) -> nn.Module:
    return activation() if callable(activation) else nn.activation_by_name(activation)


class MLP(nn.Sequential):
    """``in_features -> hidden[0] -> ... -> hidden[-1] -> out_features``, each hidden layer
    ``h = dropout(act(W h_prev + b))``; the output layer is linear (logits for ``CrossEntropyLoss``).

    Args: ``in_features``, ``hidden`` (a width or a list of widths), ``out_features``,
    ``activation`` (``'relu'``, ``'tanh'``, ``'sigmoid'``, ``'gelu'``, ... or a Module class),
    ``dropout`` (probability after each hidden activation; 0 adds no Dropout layer).
    Shapes: input ``(N, in_features)`` (``(N, *)`` inputs are flattened), output ``(N, out_features)``.
    A ``Sequential``, so state_dict keys are ``'0.weight'``, ``'0.bias'``, ... as in the PyTorch
    ``nn.Sequential`` with the same layers.
    """

    def __init__(self, in_features: int, hidden: int | Sequence[int], out_features: int,
                 activation: str | Callable[[], nn.Module] = "relu", dropout: float = 0.0) -> None:
        widths = [hidden] if isinstance(hidden, int) else list(hidden)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MLP: dropout probability has to be in [0, 1) (got {dropout})")
        layers: list[nn.Module] = []
        prev = in_features
        for w in widths:
            layers += [nn.Linear(prev, w), _activation(activation)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            prev = w
        layers.append(nn.Linear(prev, out_features))
        super().__init__(*layers)
        self.in_features, self.hidden, self.out_features = in_features, widths, out_features
        self.activation = activation if isinstance(activation, str) else getattr(activation, "__name__", "custom")
        self.dropout = dropout

    def forward(self, x: Any) -> Any:
        if x.ndim > 2:
            x = x.reshape(x.shape[0], -1)
        return super().forward(x)
