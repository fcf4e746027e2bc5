"""``deepling.nn``: modules, parameters, initializers and the functional API."""

from deepling.nn import functional, init
from deepling.nn.container import ModuleDict, ModuleList, Sequential
from deepling.nn.linear import Identity, Linear
from deepling.nn.module import Module
from deepling.nn.parameter import Parameter
from deepling.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from deepling.nn.sparse import Embedding

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Identity", "Linear", "functional", "init"]
__all__ += ["Embedding", "RNN", "GRU", "LSTM", "RNNCell", "GRUCell", "LSTMCell"]
