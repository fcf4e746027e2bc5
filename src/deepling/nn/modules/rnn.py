"""``deepling.nn.modules.rnn``: PyTorch's import path for RNN, LSTM, GRU, ..."""

from deepling.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

__all__ = ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"]
