"""``deepling.nn.modules.transformer``: PyTorch's import path for Transformer, TransformerEncoder, TransformerDecoder, ..."""

from deepling.nn.transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

__all__ = [
    "Transformer",
    "TransformerEncoder",
    "TransformerDecoder",
    "TransformerEncoderLayer",
    "TransformerDecoderLayer",
]
