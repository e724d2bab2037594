"""skorch callbacks of the training core that the estimators rely on.

:class:`EpochCheckpoint` keeps copies of the networks' state so that a
detector can fall back to the last finished epoch after an interrupt, or undo
a failed ``warm_start`` continuation. :class:`EpochLog` is skorch's table of
losses per epoch, coloured only on a terminal.
"""

import sys

import torch
from skorch.callbacks import Callback, PrintLog

from ._device import inner_module

__all__ = ["EpochCheckpoint", "EpochLog", "copy_state", "restore_state"]


def _networks(net):
    # The plain modules: their state keys do not change when accelerate
    # wraps them for data-parallel training (and unwraps them at its end).
    return [inner_module(net.module_), inner_module(net.discriminator_)]


def copy_state(net, optimizers):
    modules = _networks(net)
    if optimizers:
        modules += [net.optimizer_, net.optimizer_discriminator_]
    # Optimizer state dicts hold tensors in nested dicts: deep-copy them.
    return [clone_tensors(m.state_dict()) for m in modules]


def clone_tensors(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, dict):
        return {key: clone_tensors(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [clone_tensors(value) for value in obj]
    return obj


def restore_state(net, state):
    modules = [*_networks(net), net.optimizer_,
               net.optimizer_discriminator_][:len(state)]
    for module, saved in zip(modules, state):
        module.load_state_dict(saved)


class EpochCheckpoint(Callback):
    """Keeps the state at the start of a fit and after each finished epoch.

    Registered before the user's callbacks, so its ``on_epoch_end`` has run
    whenever the epoch's training and validation are over, even if a later
    callback (``EarlyStopping``, a user's) raises ``KeyboardInterrupt``.
    The copies are dropped when the detector's ``fit`` ends and never pickled.
    """

    def initialize(self):
        self.start_ = self.good_ = None
        return self

    def on_train_begin(self, net, **kwargs):
        self.start_ = copy_state(net, optimizers=True)
        self.start_epochs_ = self.good_epochs_ = len(net.history)
        self.good_ = None  # None: the start state

    def on_epoch_end(self, net, **kwargs):
        self.good_ = copy_state(net, optimizers=False)
        self.good_epochs_ = len(net.history)

    def clear(self):
        self.start_ = self.good_ = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["start_"] = state["good_"] = None
        return state


class EpochLog(PrintLog):
    """skorch's :class:`~skorch.callbacks.PrintLog`, which colours each
    column's best value, with the colours left out when standard output is
    not a terminal: in a log file they are escape codes, not colours."""

    def format_row(self, row, key, color):
        if not _stdout_is_terminal():
            row = {k: v for k, v in row.items() if k != key + "_best"}
        return super().format_row(row, key, color)


def _stdout_is_terminal():
    isatty = getattr(sys.stdout, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False
