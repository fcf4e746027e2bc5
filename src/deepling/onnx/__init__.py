"""``deepling.onnx.export``: a model's computation as an ONNX graph, for deployment runtimes.

Shaped like ``torch.onnx.export(model, args, f, input_names=, output_names=, dynamic_axes=,
opset_version=)``. Needs the ``onnx`` package (the ``interop`` extra); ``onnxruntime`` runs the result.
"""

from deepling.onnx.export import DEFAULT_OPSET, SUPPORTED_OPSETS, ExportError, export

__all__ = ["export", "ExportError", "DEFAULT_OPSET", "SUPPORTED_OPSETS"]
