"""Pictures of models and training: plots with matplotlib (the ``viz`` extra), the autograd graph as
SVG (no dependency; PNG through Graphviz) and a torchinfo-style ``summary`` table."""

from deepling.viz.check import check_figure
from deepling.viz.graph import draw_graph, graph_data, retain_graph_grads, to_dot
from deepling.viz.plots import plot_confusion_matrix, plot_history
from deepling.viz.summary import ModelSummary, summary

__all__ = ["check_figure", "plot_history", "plot_confusion_matrix", "draw_graph", "graph_data", "retain_graph_grads", "to_dot", "summary", "ModelSummary"]
