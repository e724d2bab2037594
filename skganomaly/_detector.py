"""GANomalyDetector: the scikit-learn outlier detector."""

import math
import re
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, OutlierMixin, _fit_context, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch.callbacks import ProgressBar

from ._input import InputScaler, flatten_samples, resolve_sample_shape
from ._net import GANomalyNet, TensorBatches, TrainValid
from ._networks import Discriminator, Generator

__all__ = ["GANomalyDetector"]

#: With ``contamination="auto"`` the threshold is set so that at most this
#: fraction of normal data is flagged (a split-conformal guarantee).
AUTO_FALSE_ALARM_RATE = 0.05

#: Batch size used for scoring: inference needs no gradients, so larger
#: batches than in training are cheap and faster.
_MIN_SCORE_BATCH = 256

_DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?|mps)$")


def resolve_device(device):
    """``"auto"`` -> ``"cuda"`` when available, else ``"cpu"``; others checked."""
    if isinstance(device, torch.device):
        device = str(device)
    if not _DEVICE_PATTERN.match(device):
        raise ValueError(
            f"device={device!r} is not understood; use 'auto', 'cpu', 'cuda' or "
            "'cuda:<index>'."
        )
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on "
                "this machine; use device='cpu' or device='auto'."
            )
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} was requested but only "
                f"{torch.cuda.device_count()} CUDA device(s) exist."
            )
    if device == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise ValueError("device='mps' was requested but MPS is not available.")
    return device


def conformal_threshold(scores, alpha):
    """Smallest threshold ``t`` with ``P(s > t) <= alpha`` for a new normal
    sample exchangeable with ``scores`` (split conformal prediction).

    With fewer than ``1 / alpha - 1`` scores the guarantee is unreachable and
    the largest score is returned.
    """
    scores = np.sort(np.asarray(scores, dtype=np.float64))
    n = len(scores)
    k = math.ceil((n + 1) * (1 - alpha))
    return scores[min(k, n) - 1]


class GANomalyDetector(OutlierMixin, BaseEstimator):
    """GANomaly outlier detector (Akcay et al., ACCV 2018).

    Trained on normal data only, GANomaly learns an encoder -> decoder ->
    encoder generator ``z = E1(x)``, ``x_hat = Dec(z)``, ``z_hat = E2(x_hat)``
    beside a discriminator. Inputs unlike the training data are reconstructed
    poorly, so their codes ``z`` and ``z_hat`` disagree: the anomaly score is
    the mean squared distance between them.

    Images (3-D or 4-D arrays, or 2-D arrays with ``image_shape``) use the
    paper's DCGAN convolutional networks; other 2-D arrays use multi-layer
    perceptrons. Training runs in PyTorch through skorch on CPU or GPU.

    Read more in the :ref:`User Guide <user_guide>`.

    Parameters
    ----------
    latent_dim : int, default=100
        Size of the latent code ``z``.

    n_filters : int, default=64
        Width of the first convolution of the encoders and the discriminator
        (doubled at each halving of the image size), or the base width of
        the hidden layers (``4 * n_filters`` and ``2 * n_filters``) for
        tabular data.

    image_shape : tuple of int, default=None
        ``(H, W)`` or ``(C, H, W)``: each row of a 2-D ``X`` is one flattened
        image of this shape. ``None`` treats 2-D ``X`` as tabular rows and
        takes the shape of 3-D ``(n, H, W)`` and 4-D ``(n, C, H, W)`` input
        from the data. Images of any size are padded internally to a square,
        power-of-two canvas (at least 8x8); scores and outputs never depend
        on that padding.

    max_epochs : int, default=15
        Number of passes over the training data.

    batch_size : int, default=64
        Mini-batch size for training. A trailing batch of a single sample is
        skipped in that epoch (BatchNorm cannot train on one sample).

    lr : float, default=2e-4
        Learning rate of the Adam optimizers of generator and discriminator.

    beta1 : float, default=0.5
        First-moment decay of Adam (``betas=(beta1, 0.999)``).

    w_adv, w_con, w_enc : float, default=1.0, 50.0, 1.0
        Weights of the generator's adversarial (feature matching),
        contextual (L1 reconstruction) and encoder (latent L2) losses.

    contamination : 'auto' or float, default='auto'
        Sets the threshold ``offset_`` that :meth:`predict` uses.

        - float in (0, 0.5]: the expected proportion of outliers in the
          training data; ``offset_`` is that percentile of the training
          scores (as in :class:`~sklearn.ensemble.IsolationForest`).
        - ``'auto'``: a false-alarm rate of at most 5 % on normal data. A
          held-out part of the training rows (``validation_fraction``) is
          never used for weight updates; ``offset_`` is the split-conformal
          quantile of their scores, so a new sample from the training
          distribution is flagged with probability at most 0.05. Without
          held-out rows (``validation_fraction=None`` or tiny data), the
          5th percentile of the training scores is used instead.

    validation_fraction : float or None, default=0.1
        Fraction of the training rows held out from the weight updates. They
        give the per-epoch ``valid_loss`` and ``valid_score`` in
        ``net_.history`` (so skorch's ``EarlyStopping`` can monitor a loss on
        held-out **normal** data) and calibrate ``contamination='auto'``.
        ``None`` trains on all rows. Nothing is held out when either part
        would have fewer than two rows.

    device : str, default='auto'
        ``'auto'`` (CUDA when available, else CPU), ``'cpu'``, ``'cuda'`` or
        ``'cuda:<index>'``. A model fitted on a GPU can be unpickled on a
        CPU-only machine.

    callbacks : list of skorch callbacks, default=None
        Passed (cloned) to the skorch net, e.g.
        ``[skorch.callbacks.EarlyStopping(monitor="valid_loss")]``.

    verbose : int, default=0
        ``1`` shows skorch's progress bar and a table of the losses per
        epoch; ``0`` is silent.

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, data order and the held-out split.
        With an int, two fits on CPU give bit-identical scores, and fitting
        leaves the global torch and numpy random states unchanged.

    Attributes
    ----------
    offset_ : float
        Threshold on :meth:`score_samples`: ``decision_function(X) =
        score_samples(X) - offset_``, negative for outliers.

    net_ : GANomalyNet
        The fitted skorch net; ``net_.module_`` is the generator,
        ``net_.discriminator_`` the discriminator and ``net_.history`` the
        per-epoch losses.

    sample_shape_ : tuple of int
        Shape of one sample as the networks see it: ``(n_features,)`` for
        tabular data or ``(C, H, W)`` for images.

    device_ : str
        The device the model was trained on.

    n_iter_ : int
        Number of epochs trained (fewer than ``max_epochs`` when a callback
        such as ``EarlyStopping`` stopped training).

    n_features_in_ : int
        Number of values per sample seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    sklearn.ensemble.IsolationForest : Isolation-based outlier detector.
    sklearn.neighbors.LocalOutlierFactor : Density-based outlier detector.
    sklearn.svm.OneClassSVM : Support-vector outlier detector.

    References
    ----------
    .. [1] S. Akcay, A. Atapour-Abarghouei, T. P. Breckon. "GANomaly:
       Semi-supervised anomaly detection via adversarial training."
       ACCV 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from skganomaly import GANomalyDetector
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 4))
    >>> det = GANomalyDetector(latent_dim=4, n_filters=8, max_epochs=2,
    ...                        random_state=0).fit(X)
    >>> det.predict([[0.1, 0.0, -0.2, 0.1], [40.0, -40.0, 40.0, 40.0]])
    array([ 1, -1])
    """

    _parameter_constraints = {
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "n_filters": [Interval(Integral, 1, None, closed="left")],
        "image_shape": [tuple, list, None],
        "max_epochs": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "beta1": [Interval(Real, 0, 1, closed="left")],
        "w_adv": [Interval(Real, 0, None, closed="left")],
        "w_con": [Interval(Real, 0, None, closed="left")],
        "w_enc": [Interval(Real, 0, None, closed="left")],
        "contamination": [
            StrOptions({"auto"}),
            Interval(Real, 0, 0.5, closed="right"),
        ],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "device": [str, torch.device],
        "callbacks": [list, None],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        latent_dim=100,
        n_filters=64,
        image_shape=None,
        max_epochs=15,
        batch_size=64,
        lr=2e-4,
        beta1=0.5,
        w_adv=1.0,
        w_con=50.0,
        w_enc=1.0,
        contamination="auto",
        validation_fraction=0.1,
        device="auto",
        callbacks=None,
        verbose=0,
        random_state=None,
    ):
        self.latent_dim = latent_dim
        self.n_filters = n_filters
        self.image_shape = image_shape
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.beta1 = beta1
        self.w_adv = w_adv
        self.w_con = w_con
        self.w_enc = w_enc
        self.contamination = contamination
        self.validation_fraction = validation_fraction
        self.device = device
        self.callbacks = callbacks
        self.verbose = verbose
        self.random_state = random_state

    # -- fitting ------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the detector on normal data.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features), \
                (n_samples, H, W) or (n_samples, C, H, W)
            Normal training samples. Sparse matrices are not supported.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        device = resolve_device(self.device)
        X2d, nd_shape = flatten_samples(X)
        X2d = validate_data(
            self, X2d, dtype=[np.float64, np.float32], ensure_min_samples=2
        )
        sample_shape = resolve_sample_shape(self.image_shape, nd_shape, X2d.shape[1])

        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        train_idx, valid_idx = self._split_holdout(len(X2d), rng)

        self._scaler = InputScaler().fit(X2d[train_idx], sample_shape)
        X_train = torch.from_numpy(self._scaler.transform(X2d[train_idx]))
        X_valid = (
            torch.from_numpy(self._scaler.transform(X2d[valid_idx]))
            if len(valid_idx) else None
        )

        self.sample_shape_ = sample_shape
        self.device_ = device
        self.net_ = self._make_net(sample_shape, device, seed)
        cuda = [torch.device(device)] if device.startswith("cuda") else []
        # Seed torch without touching the caller's global random state.
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(seed)
            self.net_.fit(TrainValid(X_train, X_valid))
        self.n_iter_ = len(self.net_.history)

        self.offset_ = self._compute_offset(X2d, X_valid)
        return self

    def _split_holdout(self, n_samples, rng):
        order = rng.permutation(n_samples)
        n_valid = 0
        if self.validation_fraction is not None:
            n_valid = int(round(self.validation_fraction * n_samples))
            if n_valid < 2 or n_samples - n_valid < 2:
                n_valid = 0
        return np.sort(order[n_valid:]), np.sort(order[:n_valid])

    def _make_net(self, sample_shape, device, seed):
        callbacks = [clone(cb, safe=False) for cb in (self.callbacks or [])]
        if self.verbose:
            callbacks.append(("progress_bar", ProgressBar()))
        betas = (self.beta1, 0.999)
        return GANomalyNet(
            module=Generator,
            module__sample_shape=sample_shape,
            module__latent_dim=self.latent_dim,
            module__n_filters=self.n_filters,
            discriminator=Discriminator,
            discriminator__sample_shape=sample_shape,
            discriminator__n_filters=self.n_filters,
            optimizer=torch.optim.Adam,
            optimizer__betas=betas,
            optimizer_discriminator=torch.optim.Adam,
            optimizer_discriminator__betas=betas,
            lr=self.lr,
            w_adv=self.w_adv,
            w_con=self.w_con,
            w_enc=self.w_enc,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train=TensorBatches,
            iterator_train__shuffle=True,
            iterator_train__seed=seed,
            iterator_train__drop_singleton=True,
            iterator_valid=TensorBatches,
            iterator_valid__batch_size=max(self.batch_size, _MIN_SCORE_BATCH),
            train_split=None,
            callbacks=callbacks or None,
            verbose=int(self.verbose),
            device=device,
        )

    def _compute_offset(self, X2d, X_valid):
        if self.contamination == "auto" and X_valid is not None:
            scores = self.net_.score_batches(self._batches_of_tensor(X_valid))
            return -float(conformal_threshold(scores, AUTO_FALSE_ALARM_RATE))
        rate = (AUTO_FALSE_ALARM_RATE if self.contamination == "auto"
                else self.contamination)
        return float(np.percentile(-self._score(X2d), 100 * rate))

    # -- scoring ------------------------------------------------------------

    def _validate_for_scoring(self, X):
        check_is_fitted(self)
        X2d, nd_shape = flatten_samples(X)
        X2d = validate_data(self, X2d, dtype=[np.float64, np.float32], reset=False)
        if nd_shape is not None:
            shape = resolve_sample_shape(None, nd_shape, X2d.shape[1])
            if shape != self.sample_shape_:
                raise ValueError(
                    f"X holds samples of shape {nd_shape}, but {type(self).__name__} "
                    f"was fitted on samples of shape {self.sample_shape_}."
                )
        return X2d

    @property
    def _score_batch_size(self):
        return max(self.batch_size, _MIN_SCORE_BATCH)

    def _scaled_batches(self, X2d):
        # Scale batch by batch: memory stays bounded by the batch size.
        step = self._score_batch_size
        for start in range(0, len(X2d), step):
            yield torch.from_numpy(self._scaler.transform(X2d[start:start + step]))

    def _batches_of_tensor(self, X):
        step = self._score_batch_size
        return (X[start:start + step] for start in range(0, len(X), step))

    def _score(self, X2d):
        """GANomaly scores of validated rows; higher = more abnormal."""
        return self.net_.score_batches(self._scaled_batches(X2d))

    def score_samples(self, X):
        """Opposite of the GANomaly anomaly score: higher is more normal.

        The GANomaly score of a sample is the mean squared distance between
        its latent code ``z = E1(x)`` and the code of its reconstruction
        ``z_hat = E2(Dec(z))``. The networks run in evaluation mode, so a
        sample's score depends on that sample alone.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features), \
                (n_samples, H, W) or (n_samples, C, H, W)
            Samples to score, in the layout used in :meth:`fit`.

        Returns
        -------
        scores : ndarray of shape (n_samples,), dtype float64
            Negative GANomaly scores (always finite).
        """
        return -self._score(self._validate_for_scoring(X))

    def decision_function(self, X):
        """Shifted opposite anomaly score: negative for outliers.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features), \
                (n_samples, H, W) or (n_samples, C, H, W)
            Samples to score.

        Returns
        -------
        decision : ndarray of shape (n_samples,), dtype float64
            ``score_samples(X) - offset_``.
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """Predict whether each sample is an inlier (+1) or an outlier (-1).

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features), \
                (n_samples, H, W) or (n_samples, C, H, W)
            Samples to classify.

        Returns
        -------
        is_inlier : ndarray of shape (n_samples,), dtype int
            +1 for inliers, -1 for outliers.
        """
        decision = self.decision_function(X)
        is_inlier = np.ones(decision.shape[0], dtype=int)
        is_inlier[decision < 0] = -1
        return is_inlier

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags
