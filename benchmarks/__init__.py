"""Hand-run benchmarks: deepling side by side with PyTorch (``python -m benchmarks.<name>``)."""
