"""Plots with matplotlib (the ``viz`` extra): training curves and confusion matrices, saved to files."""

from deepling.viz.plots import plot_confusion_matrix, plot_history

__all__ = ["plot_history", "plot_confusion_matrix"]
