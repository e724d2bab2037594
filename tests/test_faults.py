"""Training faults: diverging losses, interrupts, failed fits, warm starts.

================================================  ==========================================
Fault                                             Outcome
================================================  ==========================================
loss becomes NaN / inf (absurd ``lr``, or a       ``FloatingPointError`` naming the epoch and
patched loss) in a first fit                      the likely cause; the detector stays
                                                  unfitted (no NaN-scoring model is left)
the same in a refit                               the previous model, ``offset_`` and scores
                                                  are kept unchanged
the same in a ``warm_start`` continuation         weights, optimizer state and history are
                                                  rolled back to before the call
``KeyboardInterrupt`` from a callback's           training stops; that epoch's model is kept,
``on_epoch_end``                                  ``offset_`` set, ``UserWarning`` says so
``KeyboardInterrupt`` in the middle of an epoch   the half-updated weights are replaced by
                                                  those of the last finished epoch (or the
                                                  initial ones), ``UserWarning``
``EarlyStopping``                                 stops quietly (no warning), model kept
bad input in a refit                              previous fitted state kept
``warm_start=True``                               trains the existing networks further; the
                                                  scaling of the first fit is kept
================================================  ==========================================

Why raise instead of restoring the last good weights on a non-finite loss:
a loss that overflows means the run diverged, and the weights just before it
are usually already far off. Handing back such a model silently would hide a
configuration problem (the learning rate, the data); the error tells the user
what to change, and the detector keeps whatever good model it had.
"""

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback, EarlyStopping

from skganomaly import GANomalyDetector
from skganomaly.net import GANomalyNet

TINY = dict(latent_dim=3, n_filters=4, max_epochs=2, batch_size=16, random_state=0)


def tiny(**params):
    return GANomalyDetector(**{**TINY, **params})


@pytest.fixture(scope="module")
def X():
    return np.random.RandomState(0).normal(size=(60, 4))


def weights(det):
    return [p.detach().clone() for p in det.net_.module_.state_dict().values()]


def assert_same_weights(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert torch.equal(x, y)


@pytest.fixture
def nan_loss_in_epoch(monkeypatch):
    """Make the generator loss NaN from a given epoch on."""

    def install(epoch):
        original = GANomalyNet.weighted_generator_loss

        def patched(self, adv, con, enc):
            loss = original(self, adv, con, enc)
            return loss * float("nan") if len(self.history) >= epoch else loss

        monkeypatch.setattr(GANomalyNet, "weighted_generator_loss", patched)

    return install


# -- non-finite losses -----------------------------------------------------------


def test_absurd_learning_rate_raises_naming_the_epoch(X):
    det = tiny(lr=1e6)
    with pytest.raises(FloatingPointError, match=r"epoch 1.*smaller lr"):
        det.fit(X)
    with pytest.raises(NotFittedError):
        check_is_fitted(det)


def test_nan_loss_in_a_later_epoch_leaves_no_model(X, nan_loss_in_epoch):
    nan_loss_in_epoch(2)
    det = tiny(max_epochs=3)
    with pytest.raises(FloatingPointError, match="epoch 2"):
        det.fit(X)
    assert not hasattr(det, "offset_") and not hasattr(det, "net_")
    with pytest.raises(NotFittedError):
        det.score_samples(X)


def test_nan_loss_in_a_refit_keeps_the_previous_model(X, monkeypatch):
    det = tiny().fit(X)
    before, offset = det.score_samples(X), det.offset_
    net = det.net_
    original = GANomalyNet.weighted_generator_loss
    monkeypatch.setattr(GANomalyNet, "weighted_generator_loss",
                        lambda self, *a: original(self, *a) * float("inf"))
    with pytest.raises(FloatingPointError):
        det.fit(X * 2)
    assert det.net_ is net and det.offset_ == offset
    np.testing.assert_array_equal(det.score_samples(X), before)


def test_nan_loss_in_a_warm_start_rolls_back(X, nan_loss_in_epoch):
    det = tiny(warm_start=True).fit(X)
    before, start = det.score_samples(X), weights(det)
    optimizer_state = det.net_.optimizer_.state_dict()["state"][0]["exp_avg"].clone()
    nan_loss_in_epoch(4)  # epoch 3 trains, epoch 4 diverges
    with pytest.raises(FloatingPointError, match="epoch 4"):
        det.fit(X)
    assert det.n_iter_ == 2 and len(det.net_.history) == 2
    assert_same_weights(weights(det), start)
    assert torch.equal(
        det.net_.optimizer_.state_dict()["state"][0]["exp_avg"], optimizer_state)
    np.testing.assert_array_equal(det.score_samples(X), before)


def test_bad_input_in_a_refit_keeps_the_previous_model(X):
    det = tiny().fit(X)
    before = det.score_samples(X)
    with pytest.raises(ValueError, match="NaN"):
        det.fit(np.full((10, 3), np.nan))
    assert det.n_features_in_ == 4
    np.testing.assert_array_equal(det.score_samples(X), before)


# -- KeyboardInterrupt -------------------------------------------------------------


class InterruptAt(Callback):
    """Raise KeyboardInterrupt at the end of an epoch, or after a batch of it."""

    def __init__(self, epoch, where="epoch_end"):
        self.epoch = epoch
        self.where = where

    def initialize(self):
        self.fired_ = False  # like a real Ctrl-C: once
        return self

    def _interrupt(self, net, where):
        if where == self.where and len(net.history) == self.epoch \
                and not self.fired_:
            self.fired_ = True
            raise KeyboardInterrupt

    def on_epoch_end(self, net, **kwargs):
        self._interrupt(net, "epoch_end")

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self._interrupt(net, "batch")


@pytest.mark.parametrize("epoch, where, kept", [
    (2, "epoch_end", 2),  # epoch 2 finished, then the interrupt
    (3, "batch", 2),      # half-way through epoch 3: back to epoch 2
    (1, "batch", 0),      # half-way through epoch 1: the initial weights
])
def test_keyboard_interrupt_keeps_the_last_finished_epoch(X, epoch, where, kept):
    det = tiny(max_epochs=4, callbacks=[InterruptAt(epoch, where)])
    with pytest.warns(UserWarning, match=rf"interrupted.*last finished epoch "
                                         rf"\({kept} epoch"):
        det.fit(X)
    assert det.n_iter_ == kept and len(det.net_.history) == kept
    assert np.isfinite(det.offset_)
    scores = det.score_samples(X)
    assert np.isfinite(scores).all()
    # Bit for bit the model a fit with max_epochs=kept gives.
    reference = tiny(max_epochs=kept).fit(X)
    np.testing.assert_array_equal(scores, reference.score_samples(X))
    assert det.offset_ == reference.offset_


def test_keyboard_interrupt_then_warm_start_continues(X):
    det = tiny(max_epochs=3, callbacks=[InterruptAt(2, "batch")])
    with pytest.warns(UserWarning, match="interrupted"):
        det.fit(X)
    assert det.n_iter_ == 1
    det.set_params(warm_start=True, max_epochs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        det.fit(X)
    assert det.n_iter_ == 3
    assert np.isfinite(det.score_samples(X)).all()


def test_early_stopping_stops_quietly(X):
    # "epoch" never improves when lower is better: stops after epoch 2.
    stop = EarlyStopping(monitor="epoch", patience=1, lower_is_better=True)
    det = tiny(max_epochs=5, callbacks=[stop])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        det.fit(X)
    assert det.n_iter_ == 2
    assert np.isfinite(det.score_samples(X)).all()


def test_checkpoints_are_not_kept_after_fit(X):
    det = tiny().fit(X)
    checkpoint = dict(det.net_.callbacks_)["epoch_checkpoint"]
    assert checkpoint.start_ is None and checkpoint.good_ is None


# -- warm start ----------------------------------------------------------------------


def test_warm_start_continues_without_reinitialising(X):
    det = tiny(max_epochs=1, warm_start=True).fit(X)
    net, scaler = det.net_, det._scaler
    shift = scaler.shift_.copy()
    first = weights(det)
    before = det.score_samples(X)

    # Zero more epochs: nothing re-initialised, nothing changed.
    det.set_params(max_epochs=0).fit(X)
    assert det.net_ is net and det.n_iter_ == 1
    assert_same_weights(weights(det), first)
    np.testing.assert_array_equal(det.score_samples(X), before)

    # Two more epochs, on shifted data: the scaling of the first fit is kept,
    # training goes on from the fitted weights, offset_ is recomputed.
    offset = det.offset_
    det.set_params(max_epochs=2).fit(X + 1.0)
    assert det.net_ is net and det._scaler is scaler
    np.testing.assert_array_equal(det._scaler.shift_, shift)
    assert det.n_iter_ == 3 and len(det.net_.history) == 3
    assert det.offset_ != offset
    assert not np.array_equal(det.score_samples(X), before)


def test_without_warm_start_a_refit_starts_over(X):
    det = tiny(max_epochs=1).fit(X)
    det.set_params(max_epochs=0).fit(X)
    assert det.n_iter_ == 0
    np.testing.assert_array_equal(det.score_samples(X),
                                  tiny(max_epochs=0).fit(X).score_samples(X))


def test_warm_start_refuses_other_shapes(X):
    det = tiny(max_epochs=1, warm_start=True).fit(X)
    with pytest.raises(ValueError, match="has 3 features.*expecting 4"):
        det.fit(X[:, :3])
    with pytest.raises(ValueError, match="warm_start=False"):
        det.fit(X.reshape(60, 1, 2, 2))
    assert det.n_iter_ == 1


def test_warm_start_on_an_unfitted_detector_is_a_normal_fit(X):
    a = tiny(warm_start=True).fit(X)
    b = tiny().fit(X)
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))
