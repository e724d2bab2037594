"""skorch callbacks of the training core that the estimator relies on.

:class:`EpochCheckpoint` keeps copies of the networks' state so that
:class:`~skganomaly.GANomalyDetector` can fall back to the last finished epoch
after an interrupt, or undo a failed ``warm_start`` continuation.
"""

import torch
from skorch.callbacks import Callback

from ._net import inner_module

__all__ = ["EpochCheckpoint", "copy_state", "restore_state"]


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
