"""GANomalyDetector: the scikit-learn outlier detector."""

import math
import re
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, OutlierMixin, _fit_context, clone
from sklearn.neighbors import LocalOutlierFactor
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch.callbacks import EarlyStopping, ProgressBar

from ._callbacks import EpochCheckpoint, restore_state
from ._input import InputScaler, flatten_samples, resolve_sample_shape
from ._net import (GANomalyNet, SkipGANomalyNet, TensorBatches, TrainValid,
                   resolve_precision)
from ._networks import Discriminator, Generator, SkipGenerator, working_image_size
from ._persistence import load_detector, save_detector
from ._sources import ScaledRows, as_row_source, chunk_rows

__all__ = ["GANomalyDetector"]

#: With ``contamination="auto"`` the threshold is set so that at most this
#: fraction of normal data is flagged (a split-conformal guarantee).
AUTO_FALSE_ALARM_RATE = 0.05

#: ``max_epochs="auto"``: the paper's epochs, and at least this many
#: optimizer steps on small training sets.
AUTO_EPOCHS = 15
AUTO_MIN_STEPS = 1000

#: ``early_stopping="auto"`` stops early when at least this many training
#: rows are held out (half decide when to stop, half calibrate the threshold).
AUTO_EARLY_STOPPING_MIN_ROWS = 20

#: ``min_image_size="auto"`` with ``generator='ganomaly'``.
AUTO_MIN_IMAGE_SIZE = 16

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
    """Threshold ``t`` with ``P(s > t) <= alpha`` for a new normal sample
    exchangeable with ``scores`` (split conformal prediction).

    Any ``t`` from the ``k``-th smallest score (``k = ceil((n + 1)(1 - alpha))``)
    up to, but excluding, the next one gives the guarantee; the midpoint is
    used, so that no held-out sample sits exactly on the threshold where
    float rounding (another batch size, thread count or device) could flip
    its prediction. When ``k >= n`` (fewer than ``1 / alpha - 1`` scores,
    where the guarantee is unreachable, or just enough), the threshold lies
    a relative ``1e-6`` above the largest score: well clear of rounding, and
    no wider than needed.
    """
    scores = np.sort(np.asarray(scores, dtype=np.float64))
    n = len(scores)
    k = math.ceil((n + 1) * (1 - alpha))
    if k < n:
        return (scores[k - 1] + scores[k]) / 2
    return scores[-1] + 1e-6 * max(abs(scores[-1]), np.finfo(np.float64).tiny)


#: Score component order of ``score_center_``, ``score_scale_`` and
#: ``score_weights_``.
SCORE_COMPONENTS = ("latent", "reconstruction")

#: Most training rows whose codes ``score_type='latent_lof'`` keeps as its
#: reference set (a seeded random subset beyond that): scoring compares each
#: sample with every reference code, and the model file stores them.
MAX_REFERENCE_CODES = 10_000


def _spread(values):
    """Standard deviation per column, or 1 where it is zero or not finite
    (a constant component cannot be standardised)."""
    std = np.std(values, axis=0)
    return np.where(np.isfinite(std) & (std > 0), std, 1.0)


def _to_training_device(X, device):
    """Keep the training set on the GPU when it fits comfortably: one copy
    instead of a host-to-device transfer per batch and epoch."""
    if not device.startswith("cuda"):
        return X
    free, _ = torch.cuda.mem_get_info(torch.device(device))
    if X.numel() * X.element_size() > free // 4:
        return X
    return X.to(device)


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

    min_image_size : int, "auto" or None, default="auto"
        Images whose longer side is shorter than this are upsampled
        (bilinear, aspect ratio kept) so that it equals ``min_image_size``
        before the networks see them, and the networks (training losses
        included) work at that size, as the paper resizes its inputs to
        32x32. Reconstructions and reconstruction errors are averaged back
        down to the input's size, so :meth:`reconstruct` and
        :meth:`anomaly_map` keep the shape of ``X``. ``"auto"``: 16 with
        ``generator='ganomaly'``; no resizing with ``generator='skip'``,
        whose U-Net passes more of an anomaly through its skip connections
        at 16x16 (on the test suite's ramp images: ROC AUC 0.84 at 16x16,
        1.0 at 8x8). ``None`` never resizes. Ignored for tabular data.

        Why: on an 8x8 image the paper's DCGAN encoder is one convolution
        without BatchNorm; at 16x16 it has the paper's structure in small.
        On sklearn's 8x8 digits the mean ROC AUC rises from 0.912 to 0.952
        on the development seed (0.925 to 0.942 on the reported seeds), for
        4.5x the fit and score time; 32 did no better (see the Benchmarks
        page).

    max_epochs : int or "auto", default="auto"
        Number of passes over the training data. ``"auto"`` trains the
        paper's 15 epochs, or more on small training sets: enough epochs for
        at least 1,000 optimizer steps (``ceil(1000 / batches per epoch)``).
        The paper's 15 epochs over MNIST are about 11,000 steps; over the
        1,100 training images of a digits task they are 280, too few for
        the networks to converge (mean ROC AUC on digits: 0.888 with 15
        epochs, 0.924 with 60 on the development seed; see the Benchmarks
        page). ``0`` gives a usable but untrained model (initial weights,
        ``offset_`` set), a starting point for ``warm_start=True``.

    batch_size : int, default=64
        Mini-batch size for training, at least 2. A trailing batch of a
        single sample is skipped in that epoch (BatchNorm cannot train on one
        sample).

    lr : float, default=2e-4
        Learning rate of the Adam optimizers of generator and discriminator.

    beta1 : float, default=0.5
        First-moment decay of Adam (``betas=(beta1, 0.999)``).

    ema_decay : float in [0, 1), default=0.99
        Score with an exponential moving average of the generator's weights
        (Polyak averaging, as GANs commonly do for their generators) instead
        of the weights of the last optimizer step. After each step ``t`` the
        average moves towards the trained weights by ``1 - d``, with ``d =
        min(ema_decay, (1 + t) / (10 + t))`` (a warm-up, so that the
        initial weights are soon forgotten): the average spans roughly the
        last tenth of the steps, and with 0.99 at most about the last
        hundred (from step 900 on). Training continues from the trained
        weights; the held-out loss of early stopping, callbacks that see the
        model at an epoch's end, scoring and saved files use the average. A
        ``warm_start`` fit starts a new average from the fitted (averaged)
        weights. ``0`` scores the last step's weights, as the paper does.

        Why: adversarial training moves the latent score a lot from step to
        step. Over the last 23 of 45 epochs of a digits task, the test ROC
        AUC of each epoch's last weights ranged from 0.90 to 0.99 (mean
        change per epoch 0.033), that of the averaged weights from 0.956 to
        0.962. On the digits development seed the mean ROC AUC rose from
        0.952 to 0.964, on the reported seeds from 0.942 to 0.960 (see the
        Benchmarks page).
        The averaged model's held-out loss falls more steadily, so early
        stopping tends to stop later (fits on digits took 1.7x as long).

    w_adv, w_con, w_enc : float, default=1.0, 50.0, 1.0
        Weights of the generator's adversarial (feature matching),
        contextual (L1 reconstruction) and encoder (latent L2) losses. With
        ``generator='skip'`` they weigh Skip-GANomaly's adversarial (BCE),
        contextual (L1) and latent (L2 between discriminator features) losses;
        that paper used 1, 40 and 1.

    generator : {'ganomaly', 'skip'}, default='ganomaly'
        ``'ganomaly'``: the GANomaly encoder -> decoder -> encoder generator.
        ``'skip'``: Skip-GANomaly (Akcay et al., IJCNN 2019), an
        encoder-decoder with skip connections (a U-Net for images; for
        tabular rows an MLP whose decoder layers also receive the encoder
        layers of the same width) trained with a classic adversarial loss and
        a latent loss on the discriminator's features. Its latent score
        compares the discriminator's features of ``x`` and ``x_hat``.

    score_type : {'auto', 'latent', 'reconstruction', 'combined', \
            'latent_lof'}, default='auto'
        What :meth:`score_samples` measures (per sample, higher anomaly score
        = more abnormal; ``score_samples`` returns its opposite):

        - ``'latent'``: mean squared distance of the latent codes, ``z`` and
          ``z_hat`` (GANomaly's score) or, with ``generator='skip'``, of the
          discriminator's features of ``x`` and ``x_hat``;
        - ``'reconstruction'``: mean absolute reconstruction error
          ``mean |x - x_hat|`` over the sample's values, in the scaled units
          the networks see (the mean of :meth:`anomaly_map`);
        - ``'combined'``: ``score_lambda * r + (1 - score_lambda) * l``,
          where ``r`` and ``l`` are the reconstruction and latent errors
          standardised with the mean and standard deviation they have on the
          held-out normal rows of :term:`fit` that calibrate the threshold
          (``validation_fraction``; the training rows when nothing is held
          out). Never on test data: a
          sample's score depends on that sample alone;
        - ``'latent_lof'``: the local outlier factor of the sample's code
          ``z = E1(x)`` among the codes of the training rows
          (:class:`~sklearn.neighbors.LocalOutlierFactor` with
          ``novelty=True`` and ``n_neighbors``). GANomaly's score asks
          whether a sample is encoded consistently; this one asks whether
          its code lies where normal codes are dense, which helps when
          normal data has many modes (several digits, say; see the
          benchmarks in the documentation). It departs from the paper after
          training only: the networks are the same as with ``'latent'``. At
          most 10,000 training rows (a seeded random subset beyond that;
          never the held-out rows that calibrate ``offset_``) are kept as
          ``reference_codes_``;
        - ``'auto'``: with ``generator='ganomaly'``, ``'latent_lof'`` for
          images and ``'latent'`` (the paper's score) for tabular rows; with
          ``'skip'``, ``'combined'`` (its paper's score). On the benchmarks'
          image suites ``'latent_lof'`` was better than the paper's score
          (full MNIST-test protocol, three seeds: 0.917 against 0.801 ROC AUC,
          LOF on pixels 0.870), on the tabular ODDS sets slightly worse
          (0.946 against 0.955).

        Skip-GANomaly's paper mixes the raw errors and rescales scores over
        the test set; standardising each error on held-out normal rows keeps
        ``score_lambda`` meaningful whatever the units and keeps a sample's
        score independent of the others.

    score_lambda : float in [0, 1], default=0.9
        Weight of the reconstruction error in ``score_type='combined'``
        (0.9 is Skip-GANomaly's lambda). Unused by the other score types.

    n_neighbors : int, default=10
        Neighbours of ``score_type='latent_lof'`` (fewer when there are fewer
        reference codes). On the development seed of the benchmarks 10 did
        better than :class:`~sklearn.neighbors.LocalOutlierFactor`'s default
        of 20 on both MNIST and digits, and 5 better still, though LOF's
        authors advise at least 10 against statistical fluctuations. Unused
        by the other score types.

    contamination : 'auto' or float, default='auto'
        Sets the threshold ``offset_`` that :meth:`predict` uses.

        - float in (0, 0.5]: the expected proportion of outliers in the
          training data; ``offset_`` is that percentile of the training
          scores (as in :class:`~sklearn.ensemble.IsolationForest`).
        - ``'auto'``: a false-alarm rate of at most 5 % on normal data. A
          held-out part of the training rows (``validation_fraction``) is
          never used for weight updates; ``offset_`` is the split-conformal
          quantile of their scores (with early stopping: of the half that
          did not decide when to stop), so a new sample from the training
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

    early_stopping : 'auto' or bool, default='auto'
        Stop training once the generator loss on held-out normal rows
        (``valid_loss``) has not improved for ``n_iter_no_change`` epochs,
        and keep the weights of the best epoch (skorch's ``EarlyStopping``
        with ``load_best=True``). The held-out rows are split in two: one
        half gives ``valid_loss``, the other calibrates the threshold, so no
        choice is made on the rows that set ``offset_``. ``'auto'`` stops
        early when at least 20 rows are held out (200 training rows at the
        default ``validation_fraction``). GANomaly's test scores drift as
        training goes on: on sklearn's digits (development seed) the mean
        ROC AUC was 0.952 with early stopping and 0.919 training all
        ``max_epochs="auto"`` epochs (see the Benchmarks page). ``True``
        raises an error when fewer than 4 rows are held out.

    n_iter_no_change : int, default=5
        Epochs without improvement of ``valid_loss`` before early stopping
        ends training (skorch's ``patience``).

    device : str, default='auto'
        ``'auto'`` (CUDA when available, else CPU), ``'cpu'``, ``'cuda'`` or
        ``'cuda:<index>'``. A model fitted on a GPU can be unpickled on a
        CPU-only machine (a Dask or Ray worker, say): it then scores on the
        CPU and ``device_`` says ``'cpu'``.

    precision : {'auto', 'fp32', 'bf16'}, default='auto'
        Arithmetic of the networks. ``'bf16'`` runs them under bfloat16
        autocast (weights, optimizer state and losses stay float32; image
        networks use the ``channels_last`` layout). ``'auto'`` uses bf16 for
        images on hardware with native bf16 (recent CUDA GPUs; CPUs with
        AVX512-BF16 or AMX), where it trains about 1.4x and scores about 2x
        faster with the same ROC AUC, and fp32 otherwise (tabular data gains
        nothing from bf16). Scores under bf16 agree with fp32 to about two
        significant digits, and a score may change in the last digits with
        the batch it is computed in.

    accelerator : accelerate.Accelerator, default=None
        Train through Hugging Face ``accelerate`` (``pip install
        "skganomaly[accelerate]"``): data parallel over several GPUs (one
        process per GPU, started with ``accelerate launch``) and bfloat16
        mixed precision. The accelerator's device and ``mixed_precision``
        (``"no"`` or ``"bf16"``) take over from ``device`` and
        ``precision``: leave those at ``'auto'`` (other values must agree
        with the accelerator, or :term:`fit` raises ``ValueError``). With
        several processes, each one trains on its share of every epoch
        (``batch_size`` rows per process and step); give every process the
        same data and an int ``random_state``. All processes end with the
        same fitted detector, which scores on its own in each process. The
        accelerator belongs to the running session: pickles and
        :meth:`save` leave it out (the copy has ``accelerator=None`` and
        runs on ``device_``). ``None`` trains without accelerate.

    callbacks : list of skorch callbacks, default=None
        Passed (cloned) to the skorch net, e.g.
        ``[skorch.callbacks.Checkpoint(dirname="run")]``. For an
        ``EarlyStopping`` of your own, set ``early_stopping=False``.

    warm_start : bool, default=False
        When ``True`` and the detector is fitted, :meth:`fit` trains the
        existing networks for ``max_epochs`` more epochs instead of
        re-initialising them. The input scaling, sample shape, device and the
        settings of the networks and optimizers of the first fit are kept
        (``X`` must have the same features); ``offset_`` is computed again.

    compile : bool, default=False
        Compile the generator and the discriminator with ``torch.compile``
        (through skorch's ``compile`` option). The first batches then take
        longer while kernels are generated; worth it for long trainings on a
        GPU. Saved model files hold the uncompiled weights.

    refresh_batchnorm : bool, default=True
        After training, re-estimate the generator's BatchNorm running
        statistics with one pass over the training rows and the final
        weights (as for stochastic weight averaging), instead of keeping the
        exponential average of training, which mixes in statistics of
        earlier weights. Only training rows are used, so a sample's score
        still depends on that sample alone; the cost is one forward pass
        over the training rows. Stale statistics can turn the latent score
        upside down after short trainings: on a toy set (10 epochs) the ROC
        AUC went from 0.0 to 1.0, and on the reduced MNIST benchmark (3
        epochs) the mean AUC of digits 0-3 from 0.30 to 0.56, while after the
        default 15 epochs on digits nothing changed (see the Benchmarks
        page). ``False`` keeps the running averages of training.

    verbose : int, default=0
        ``0`` is silent. ``1`` prints one line per epoch (the losses and the
        epoch's time, skorch's table), and why training stopped early when
        it did: readable in a terminal and in a log file. ``2`` also shows
        skorch's progress bar within each epoch (a tqdm bar redrawn in
        place, for long epochs in a terminal).

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, data order and the held-out split.
        With an int, two fits on CPU with the same number of torch threads
        give bit-identical scores, also when they run at once in threads
        of one process, and fitting leaves the global torch and numpy random
        states unchanged.

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

    score_type_ : str
        The score used: ``'latent'``, ``'reconstruction'``, ``'combined'``
        or ``'latent_lof'`` (``score_type`` with ``'auto'`` resolved).

    score_center_, score_scale_, score_weights_ : ndarray of shape (2,)
        Except with ``'latent_lof'``, the anomaly score is
        ``sum(score_weights_ * (e - score_center_) / score_scale_)`` over
        the per-sample errors ``e = [latent, reconstruction]``. Center and
        scale are the mean and standard deviation of the errors on held-out
        normal rows for ``'combined'``, and 0 and 1 (raw errors) otherwise.
        All weights are 0 with ``'latent_lof'``.

    reference_codes_ : ndarray of shape (n_reference, latent_dim), dtype float32
        Only with ``score_type='latent_lof'`` (the default for images): the
        codes ``z`` of the training rows (never the held-out rows that
        calibrate ``offset_``) that the local outlier factor compares
        samples with.

    n_neighbors_ : int
        Only with ``score_type='latent_lof'``: the neighbours it uses
        (``n_neighbors``, or fewer when there are fewer reference codes).

    device_ : str
        The device the networks are on: the one the model was trained on,
        or the one it was loaded on (:meth:`load`, or unpickling a model
        trained on a GPU where there is none, which puts it on the CPU).

    precision_ : str
        The arithmetic used, ``'fp32'`` or ``'bf16'`` (see ``precision``).

    n_iter_ : int
        Number of epochs trained (fewer than ``max_epochs`` when early
        stopping or a callback ended training), counting those of earlier
        fits continued with ``warm_start=True``. With early stopping the
        weights are those of the best epoch, ``n_iter_ - n_iter_no_change``
        when training stopped early.

    do_early_stopping_ : bool
        Whether training stopped early on held-out rows (``early_stopping``
        resolved for the data of the first :term:`fit`).

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

    Notes
    -----
    **Faults during fit.** A training loss that becomes NaN or infinite
    raises ``FloatingPointError`` naming the epoch; the detector is then left
    as it was before the call (unfitted, or with its previous model; a
    ``warm_start`` continuation is rolled back), so no model with NaN scores
    is ever produced. ``KeyboardInterrupt`` during training ends it early:
    the model of the last finished epoch is kept (weights half-way through an
    epoch are replaced by those of the previous one), ``offset_`` is set from
    it and a ``UserWarning`` says so.

    **Model files.** Fitted detectors pickle (``joblib``) with identical
    scores. :meth:`save` / :meth:`load` write and read a file that loads
    without unpickling code (JSON plus ``torch.load(weights_only=True)``),
    checks the format version and SHA-256 checksums, and is written
    atomically.

    **Memory and threads.** Scoring scales and scores one batch of
    ``max(batch_size, 256)`` rows at a time into one preallocated array:
    scoring 10**6 rows of 20 features added 8 MiB to the peak memory of the
    process (the float64 scores themselves; see
    ``benchmarks/scoring_memory.py``). A fitted detector can score from
    several threads at once; results equal sequential calls.

    **Data larger than memory.** A :class:`numpy.memmap` (as returned by
    ``np.load(path, mmap_mode="r")``) or a map-style
    :class:`torch.utils.data.Dataset` (items: samples, or ``(sample,
    target)`` pairs whose target is ignored) is read on demand in every
    method: rows are read, validated and scaled one chunk or batch at a
    time, never all at once. Results equal those of the same data in
    memory. Fitting and scoring a memmap 3.8 times larger than the memory
    the process may allocate is tested; see the Scaling page of the
    documentation for measured peak memory.

    **Reproducibility.** With an int ``random_state``, fits on CPU give
    bit-identical scores across runs and processes (with the same number of
    torch threads and the same library versions). On CUDA, cuDNN may pick
    non-deterministic convolution algorithms, so GPU fits agree only to
    float tolerance unless ``torch.use_deterministic_algorithms(True)`` is
    set (with ``CUBLAS_WORKSPACE_CONFIG=:4096:8``) and
    ``torch.backends.cudnn.benchmark`` is off; CPU and GPU results never
    agree bit for bit. ``precision='bf16'`` results also depend on the batch
    a sample is scored in.

    References
    ----------
    .. [1] S. Akcay, A. Atapour-Abarghouei, T. P. Breckon. "GANomaly:
       Semi-supervised anomaly detection via adversarial training."
       ACCV 2018.
    .. [2] S. Akcay, A. Atapour-Abarghouei, T. P. Breckon. "Skip-GANomaly:
       Skip connected and adversarially trained encoder-decoder anomaly
       detection." IJCNN 2019.

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
        "min_image_size": [Interval(Integral, 1, None, closed="left"),
                           StrOptions({"auto"}), None],
        "max_epochs": [Interval(Integral, 0, None, closed="left"),
                       StrOptions({"auto"})],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "beta1": [Interval(Real, 0, 1, closed="left")],
        "ema_decay": [Interval(Real, 0, 1, closed="left")],
        "w_adv": [Interval(Real, 0, None, closed="left")],
        "w_con": [Interval(Real, 0, None, closed="left")],
        "w_enc": [Interval(Real, 0, None, closed="left")],
        "generator": [StrOptions({"ganomaly", "skip"})],
        "score_type": [StrOptions({"auto", "latent", "reconstruction", "combined",
                                   "latent_lof"})],
        "score_lambda": [Interval(Real, 0, 1, closed="both")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "contamination": [
            StrOptions({"auto"}),
            Interval(Real, 0, 0.5, closed="right"),
        ],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "early_stopping": [StrOptions({"auto"}), "boolean"],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "precision": [StrOptions({"auto", "fp32", "bf16"})],
        "accelerator": [HasMethods(["prepare", "backward", "autocast"]), None],
        "callbacks": [list, None],
        "warm_start": ["boolean"],
        "refresh_batchnorm": ["boolean"],
        "compile": ["boolean"],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        latent_dim=100,
        n_filters=64,
        image_shape=None,
        min_image_size="auto",
        max_epochs="auto",
        batch_size=64,
        lr=2e-4,
        beta1=0.5,
        ema_decay=0.99,
        w_adv=1.0,
        w_con=50.0,
        w_enc=1.0,
        generator="ganomaly",
        score_type="auto",
        score_lambda=0.9,
        n_neighbors=10,
        contamination="auto",
        validation_fraction=0.1,
        early_stopping="auto",
        n_iter_no_change=5,
        device="auto",
        precision="auto",
        accelerator=None,
        callbacks=None,
        warm_start=False,
        refresh_batchnorm=True,
        compile=False,
        verbose=0,
        random_state=None,
    ):
        self.latent_dim = latent_dim
        self.n_filters = n_filters
        self.image_shape = image_shape
        self.min_image_size = min_image_size
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.beta1 = beta1
        self.ema_decay = ema_decay
        self.w_adv = w_adv
        self.w_con = w_con
        self.w_enc = w_enc
        self.generator = generator
        self.score_type = score_type
        self.score_lambda = score_lambda
        self.n_neighbors = n_neighbors
        self.contamination = contamination
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.precision = precision
        self.accelerator = accelerator
        self.callbacks = callbacks
        self.warm_start = warm_start
        self.refresh_batchnorm = refresh_batchnorm
        self.compile = compile
        self.verbose = verbose
        self.random_state = random_state

    # -- fitting ------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the detector on normal data.

        Parameters
        ----------
        X : {array-like, DataFrame, memmap, torch Dataset} of shape \
                (n_samples, n_features), (n_samples, H, W) or \
                (n_samples, C, H, W)
            Normal training samples. Sparse matrices are not supported. A
            :class:`numpy.memmap` or a map-style torch ``Dataset`` is read
            on demand, a batch at a time (see Notes of the class).

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            Fitted estimator.

        Raises
        ------
        FloatingPointError
            If a training loss becomes NaN or infinite (the message names the
            epoch). The detector is then left as it was before the call.

        Warns
        -----
        UserWarning
            If training was interrupted (``KeyboardInterrupt`` during an
            epoch, or raised by a callback other than ``EarlyStopping``). The
            detector keeps the model of the last finished epoch and sets
            ``offset_`` from it.
        """
        previous = dict(self.__dict__)
        try:
            return self._fit_or_continue(X)
        except BaseException:
            # Bad input, a diverging loss or an interrupt outside the epochs:
            # leave the detector as it was before this call.
            self.__dict__.clear()
            self.__dict__.update(previous)
            raise

    def _fit_or_continue(self, X):
        warm = bool(self.warm_start) and hasattr(self, "net_")
        device = self.device_ if warm else self._resolve_device()
        X2d, nd_shape, source = self._validate_for_fit(X, reset=not warm)
        sample_shape = resolve_sample_shape(self.image_shape, nd_shape, X2d.shape[1])
        if warm and sample_shape != self.sample_shape_:
            raise ValueError(
                f"warm_start=True continues training networks built for samples "
                f"of shape {self.sample_shape_}, but X holds samples of shape "
                f"{sample_shape}. Pass data of the fitted shape, or set "
                "warm_start=False to fit new networks."
            )

        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        train_idx, valid_idx = self._split_holdout(len(X2d), rng)
        stops = self._stops_early(len(valid_idx), warm)
        # One half of the held-out rows decides when to stop, the other
        # calibrates offset_ (and the 'combined' score): the threshold is set
        # on rows that no choice was made on, so its guarantee stays exact.
        stop_idx, calib_idx = ((valid_idx[0::2], valid_idx[1::2]) if stops
                               else (valid_idx, None))

        step = chunk_rows(X2d.shape[1])

        def chunks(index):
            return (X2d[index[k:k + step]] for k in range(0, len(index), step))

        if not warm:
            # Reads (and so validates) every training row.
            self._scaler = InputScaler().fit_chunks(lambda: chunks(train_idx),
                                                    sample_shape)
        if source is not None:
            # Rows read on demand are validated when read: read the others
            # once now, so that bad values fail before training, not in it.
            for _ in chunks(np.arange(len(X2d)) if warm else valid_idx):
                pass
        X_train = ScaledRows(X2d, train_idx, self._scaler)
        X_valid = ScaledRows(X2d, stop_idx, self._scaler) if len(stop_idx) else None
        X_calib = ScaledRows(X2d, calib_idx, self._scaler) if stops else None
        if source is None:
            # In memory anyway: scale once, then slice batches (on the GPU
            # when it fits) instead of scaling them again every epoch.
            X_train = _to_training_device(X_train.materialize(), device)
            X_valid = X_valid.materialize() if X_valid is not None else None
            X_calib = X_calib.materialize() if X_calib is not None else None
        if not stops:
            X_calib = X_valid  # the same rows: scaled and held once

        epochs = self._epochs(len(X_train))
        if not warm:
            self.sample_shape_ = sample_shape
            self.device_ = device
            self.precision_ = self._resolve_precision(device, sample_shape)
            self.do_early_stopping_ = stops
            self.net_ = self._make_net(sample_shape, device, seed, epochs,
                                       early_stopping=stops)
        net = self.net_
        if warm:
            # This fit's data order: after unpickling the same as the first
            # fit's (an int random_state), after load() too (the file does
            # not hold the order's seed).
            net.iterator_train__seed = seed
        # The net draws from its own seeded stream of torch's global
        # generators: the caller's random state stays as it was, and fits in
        # other threads do not change what this one draws.
        with net.rng_stream(seed, device):
            if not warm:
                with net.own_rng():
                    net.initialize()
            checkpoint = dict(net.callbacks_)["epoch_checkpoint"]
            try:
                net.partial_fit(TrainValid(X_train, X_valid), epochs=epochs)
                self._settle_interrupt(net, checkpoint, epochs)
                if self.refresh_batchnorm:
                    step = int(self.batch_size)
                    net.refresh_batchnorm(
                        X_train[start:start + step]
                        for start in range(0, len(X_train), step))
                offset = self._compute_offset(X2d, X_calib, X_train, rng)
            except BaseException:
                if warm and checkpoint.start_ is not None:
                    # Undo this call's epochs on the shared networks.
                    restore_state(net, checkpoint.start_)
                    del net.history[checkpoint.start_epochs_:]
                raise
            finally:
                checkpoint.clear()
        self.n_iter_ = len(net.history)
        self.offset_ = offset
        return self

    def _validate_for_fit(self, X, reset):
        """``(X2d, nd_shape, source)``: validated rows of an ordinary input
        (``source`` is None), or a row source read on demand (memmaps and
        torch Datasets, see ``_sources.py``)."""
        source = as_row_source(X)
        if source is None:
            X2d, nd_shape = flatten_samples(X)
            X2d = validate_data(self, X2d, dtype=[np.float64, np.float32],
                                ensure_min_samples=2, reset=reset)
            return X2d, nd_shape, None
        if len(source) < 2:
            raise ValueError(
                f"Found array with {len(source)} sample(s) (shape={source.shape}) "
                f"while a minimum of 2 is required by {type(self).__name__}."
            )
        validate_data(self, source, skip_check_array=True, reset=reset)
        return source, source.nd_shape, source

    def _epochs(self, n_train):
        """Epochs of one call to fit for ``n_train`` training rows (the
        ``"auto"`` rule; see ``max_epochs``)."""
        if self.max_epochs != "auto":
            return int(self.max_epochs)
        batches = -(-n_train // int(self.batch_size))
        return max(AUTO_EPOCHS, -(-AUTO_MIN_STEPS // max(batches, 1)))

    def _settle_interrupt(self, net, checkpoint, epochs):
        """skorch ends training quietly on ``KeyboardInterrupt``: fall back to
        the last finished epoch and say so."""
        finished = checkpoint.good_epochs_
        planned = checkpoint.start_epochs_ + epochs
        if len(net.history) > finished:
            # Interrupted inside an epoch: its weights are half-updated.
            restore_state(net, checkpoint.good_ or checkpoint.start_)
            del net.history[finished:]
            when = f"during epoch {finished + 1}"
        elif finished < planned and not any(
            isinstance(cb, EarlyStopping) and cb.misses_ >= cb.patience
            for _, cb in net.callbacks_
        ):
            when = f"after epoch {finished}"
        else:
            return
        warnings.warn(
            f"Training was interrupted {when} (KeyboardInterrupt) with "
            f"{planned} epoch(s) planned. The detector keeps the model of the "
            f"last finished epoch ({finished} epoch(s) trained in all) and sets "
            "offset_ from it. Fit again (warm_start=True continues) to train "
            "further.",
            UserWarning,
            stacklevel=4,
        )

    def _stops_early(self, n_holdout, warm):
        """Whether this fit stops early on held-out rows (see
        ``early_stopping``); a warm start keeps the first fit's choice."""
        stops = (getattr(self, "do_early_stopping_", False) if warm
                 else self.early_stopping)
        if stops == "auto":
            return n_holdout >= AUTO_EARLY_STOPPING_MIN_ROWS
        if stops and n_holdout < 4:
            raise ValueError(
                f"early_stopping needs held-out training rows, but "
                f"validation_fraction={self.validation_fraction!r} holds out "
                f"{n_holdout} of them (at least 4 are needed: half decide when "
                "to stop, half calibrate the threshold). Pass more rows, a "
                "larger validation_fraction, or early_stopping=False."
            )
        return bool(stops)

    def _split_holdout(self, n_samples, rng):
        order = rng.permutation(n_samples)
        n_valid = 0
        if self.validation_fraction is not None:
            n_valid = int(round(self.validation_fraction * n_samples))
            if n_valid < 2 or n_samples - n_valid < 2:
                n_valid = 0
        return np.sort(order[n_valid:]), np.sort(order[:n_valid])

    def _resolve_device(self):
        if self.accelerator is None:
            return resolve_device(self.device)
        from ._accelerate import accelerator_device

        return accelerator_device(self.accelerator, self.device)

    def _resolve_precision(self, device, sample_shape):
        if self.accelerator is None:
            return resolve_precision(self.precision, device, sample_shape)
        from ._accelerate import accelerator_precision

        return accelerator_precision(self.accelerator, self.precision)

    @property
    def _min_image_size(self):
        size = self.min_image_size
        if size == "auto":
            return AUTO_MIN_IMAGE_SIZE if self.generator == "ganomaly" else None
        return None if size is None else int(size)  # numpy ints too

    def _make_net(self, sample_shape, device, seed, epochs, early_stopping=False):
        # The checkpoint comes first: it must see each epoch end before any
        # user callback may stop training.
        callbacks = [("epoch_checkpoint", EpochCheckpoint())]
        if early_stopping:
            callbacks.append(("early_stopping", EarlyStopping(
                monitor="valid_loss", patience=int(self.n_iter_no_change),
                load_best=True)))
        callbacks += [clone(cb, safe=False) for cb in (self.callbacks or [])]
        if self.verbose >= 2:
            # tqdm redraws its bar in place: fine in a terminal, noise in a
            # log file, so only on request.
            callbacks.append(("progress_bar", ProgressBar()))
        betas = (self.beta1, 0.999)
        skip = self.generator == "skip"
        net_class, accelerated = SkipGANomalyNet if skip else GANomalyNet, {}
        if self.accelerator is not None:
            from ._accelerate import accelerated_net_class

            net_class = accelerated_net_class(net_class)
            accelerated = dict(accelerator=self.accelerator)
        work_shape = sample_shape
        if len(sample_shape) == 3:
            channels, height, width = sample_shape
            work_shape = (channels,
                          *working_image_size(height, width, self._min_image_size))
        return net_class(
            module=SkipGenerator if skip else Generator,
            module__sample_shape=work_shape,
            module__latent_dim=int(self.latent_dim),  # bool / numpy ints too
            module__n_filters=int(self.n_filters),
            discriminator=Discriminator,
            discriminator__sample_shape=work_shape,
            discriminator__n_filters=int(self.n_filters),
            optimizer=torch.optim.Adam,
            optimizer__betas=betas,
            optimizer_discriminator=torch.optim.Adam,
            optimizer_discriminator__betas=betas,
            lr=self.lr,
            w_adv=self.w_adv,
            w_con=self.w_con,
            w_enc=self.w_enc,
            ema_decay=float(self.ema_decay),
            precision=self.precision_,
            image_size=tuple(work_shape[1:]) if work_shape != sample_shape else None,
            max_epochs=epochs,
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
            compile=bool(self.compile),
            device=device,
            **accelerated,
        )

    def _compute_offset(self, X2d, X_calib, X_train, rng):
        """Set the score's attributes (``score_*_``, and the reference codes
        of ``'latent_lof'``), then return ``offset_``.

        ``X_train``: the scaled training rows (tensor or ``ScaledRows``).
        """
        kind = self.score_type
        if kind == "auto":
            # The choice per input kind follows the benchmarks (see the
            # score_type docstring and docs/benchmarks.rst).
            kind = ("combined" if self.generator == "skip"
                    else "latent_lof" if len(self.sample_shape_) == 3 else "latent")
        self.score_type_ = kind
        self.score_center_, self.score_scale_ = np.zeros(2), np.ones(2)
        self.score_weights_ = np.array([float(kind == "latent"),
                                        float(kind == "reconstruction")])
        self.__dict__.pop("reference_codes_", None)
        self.__dict__.pop("n_neighbors_", None)
        self._lof = None
        errors = None
        if kind == "combined":
            errors = (self.net_.error_batches(self._batches_of_tensor(X_calib))
                      if X_calib is not None else self._errors(X2d))
            lam = float(self.score_lambda)
            self.score_weights_ = np.array([1.0 - lam, lam])
            self.score_center_, self.score_scale_ = errors.mean(axis=0), _spread(errors)
        elif kind == "latent_lof":
            self._fit_reference(X_train, rng)
        if self.contamination == "auto" and X_calib is not None:
            scores = (self._combine(errors) if errors is not None
                      else self._batch_scores(self._batches_of_tensor(X_calib)))
            return -float(conformal_threshold(scores, AUTO_FALSE_ALARM_RATE))
        rate = (AUTO_FALSE_ALARM_RATE if self.contamination == "auto"
                else self.contamination)
        # The training rows scored as predict() will score them (for
        # 'latent_lof' the reference rows then count themselves among their
        # neighbours): fit(X).predict(X) flags the contamination rate.
        scores = (self._combine(errors) if errors is not None and X_calib is None
                  else self._score(X2d))
        return float(np.percentile(-scores, 100 * rate))

    def _fit_reference(self, X_train, rng):
        """Keep the codes of (at most ``MAX_REFERENCE_CODES``) training rows
        and fit the local outlier factor on them."""
        keep = np.arange(len(X_train))
        if len(keep) > MAX_REFERENCE_CODES:
            keep = np.sort(rng.choice(keep, MAX_REFERENCE_CODES, replace=False))
        step = self._score_batch_size
        self.reference_codes_ = self.net_.code_batches(
            X_train[torch.as_tensor(keep[start:start + step])]
            for start in range(0, len(keep), step))
        # Frozen at fit like the codes: a model file rebuilds the LOF from
        # both, whatever n_neighbors is set to later.
        self.n_neighbors_ = min(int(self.n_neighbors), max(len(keep) - 1, 1))
        self._latent_lof()

    def _latent_lof(self):
        """The local outlier factor on ``reference_codes_``, fitted once (and
        again after :meth:`load`, which stores the codes only)."""
        lof = getattr(self, "_lof", None)
        if lof is None:
            # float64: LOF's ratios of distances would round to float32.
            codes = self.reference_codes_.astype(np.float64)
            lof = LocalOutlierFactor(n_neighbors=self.n_neighbors_,
                                     novelty=True).fit(codes)
            self._lof = lof
        return lof

    # -- scoring ------------------------------------------------------------

    def _validate_for_scoring(self, X):
        return self._validate_with_layout(X)[0]

    def _validate_with_layout(self, X):
        """Validated 2-D rows and the per-sample shape of 3-D / 4-D input."""
        check_is_fitted(self)
        source = as_row_source(X)
        if source is not None:
            # Read on demand, batch by batch (see _sources.py).
            validate_data(self, source, skip_check_array=True, reset=False)
            X2d, nd_shape = source, source.nd_shape
        else:
            X2d, nd_shape = flatten_samples(X)
            X2d = validate_data(self, X2d, dtype=[np.float64, np.float32], reset=False)
        if nd_shape is not None:
            shape = resolve_sample_shape(None, nd_shape, X2d.shape[1])
            if shape != self.sample_shape_:
                raise ValueError(
                    f"X holds samples of shape {nd_shape}, but {type(self).__name__} "
                    f"was fitted on samples of shape {self.sample_shape_}."
                )
        return X2d, nd_shape

    @property
    def _score_batch_size(self):
        return max(self.batch_size, _MIN_SCORE_BATCH)

    def _scaled_batches(self, X2d):
        """``(start, batch)`` per scoring batch of validated rows: the first
        row's position and the scaled rows as a float32 tensor."""
        # Scale batch by batch: memory stays bounded by the batch size.
        step = self._score_batch_size
        for start in range(0, len(X2d), step):
            yield start, torch.from_numpy(self._scaler.transform(X2d[start:start + step]))

    def _batches_of_tensor(self, X):
        step = self._score_batch_size
        return (X[start:start + step] for start in range(0, len(X), step))

    def _error_batches(self, X2d):
        """``(rows, errors)`` per scoring batch of validated rows: the slice
        of ``X2d`` and its ``[latent, reconstruction]`` errors."""
        for start, batch in self._scaled_batches(X2d):
            yield slice(start, start + len(batch)), self.net_.error_batches([batch])

    def _errors(self, X2d):
        """Per-sample ``[latent, reconstruction]`` errors of validated rows."""
        # Copy each batch's errors into one preallocated array at once:
        # keeping thousands of small per-batch arrays alive fragments the
        # heap, and the process then grows with the number of rows (measured:
        # +110 MiB for 10**6 rows of 20 features, against +8 MiB this way).
        errors = np.empty((len(X2d), 2), dtype=np.float64)
        for rows, batch_errors in self._error_batches(X2d):
            errors[rows] = batch_errors
        return errors

    def _combine(self, errors):
        """Anomaly scores from ``[latent, reconstruction]`` errors (see the
        ``score_*_`` attributes). Raw errors come out exactly unchanged."""
        weights = getattr(self, "score_weights_", None)
        if weights is None:
            # Pickled or saved before score_type existed: GANomaly's score.
            return errors[:, 0].copy()
        scores = np.zeros(len(errors), dtype=np.float64)
        for k in range(2):
            if weights[k] != 0:
                scores += weights[k] * (
                    (errors[:, k] - self.score_center_[k]) / self.score_scale_[k])
        return scores

    def _batch_scores(self, batches):
        """Anomaly scores of an iterable of scaled batches."""
        if getattr(self, "score_type_", None) == "latent_lof":
            codes = self.net_.code_batches(batches).astype(np.float64)
            return -self._latent_lof().score_samples(codes)
        return self._combine(self.net_.error_batches(batches))

    def _score(self, X2d):
        """Anomaly scores of validated rows; higher = more abnormal."""
        # Batch by batch: beyond the input, memory holds the scores and one
        # batch's work, whatever the number of rows.
        scores = np.empty(len(X2d), dtype=np.float64)
        for start, batch in self._scaled_batches(X2d):
            scores[start:start + len(batch)] = self._batch_scores([batch])
        return scores

    def score_samples(self, X):
        """Opposite of the anomaly score: higher is more normal.

        With the default ``score_type`` and generator, the anomaly score of
        a sample is GANomaly's: the mean squared distance between its latent
        code ``z = E1(x)`` and the code of its reconstruction ``z_hat =
        E2(Dec(z))``; ``score_type`` selects other scores. The networks run
        in evaluation mode and any standardisation was fixed in :term:`fit`,
        so a sample's score depends on that sample alone.

        Parameters
        ----------
        X : {array-like, DataFrame, memmap, torch Dataset} of shape \
                (n_samples, n_features), (n_samples, H, W) or \
                (n_samples, C, H, W)
            Samples to score, in the layout used in :meth:`fit`. A memmap or
            a torch ``Dataset`` is read on demand, a batch at a time.

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

    # -- localization and latent codes ---------------------------------------

    def _forward_rows(self, X2d, use):
        """Run the generator over validated rows batch by batch; ``use(start,
        scaled_batch, x_hat, z)`` stores what the caller needs."""
        for start, batch in self._scaled_batches(X2d):
            x_hat, z, _ = self.net_.forward_batches([batch])
            use(start, batch, x_hat, z)

    @staticmethod
    def _in_layout(values, n, nd_shape):
        # 2-D in -> (n, n_features) out; image stacks -> their own shape.
        return values.reshape(n, *nd_shape) if nd_shape is not None else values

    def reconstruct(self, X):
        """Reconstructions ``x_hat = Dec(E1(x))`` in the layout and units of ``X``.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features), \
                (n_samples, H, W) or (n_samples, C, H, W)
            Samples to reconstruct, in the layout used in :meth:`fit`.

        Returns
        -------
        X_hat : ndarray of the shape of ``X``, dtype float64
            Reconstructions mapped back from the networks' scaled units to
            those of ``X`` (pixel values, feature units). A 2-D ``X`` gives
            a 2-D array, image stacks give stacks of the same shape.
        """
        X2d, nd_shape = self._validate_with_layout(X)
        out = np.empty(X2d.shape, dtype=np.float64)

        def use(start, batch, x_hat, z):
            rows = self._scaler.inverse_transform(x_hat.numpy())
            out[start:start + len(batch)] = rows.reshape(len(batch), -1)

        self._forward_rows(X2d, use)
        return self._in_layout(out, len(X2d), nd_shape)

    def anomaly_map(self, X, *, units="scaled"):
        """Per-pixel (images) or per-feature (tabular) reconstruction errors.

        The map shows *where* a sample is abnormal: ``|x - x_hat|`` for each
        value of the sample.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features), \
                (n_samples, H, W) or (n_samples, C, H, W)
            Samples, in the layout used in :meth:`fit`.

        units : {'scaled', 'input'}, default='scaled'
            ``'scaled'``: errors in the units the networks see, i.e.
            ``|x - reconstruct(x)| / scale`` with the input scaling learned
            in :term:`fit` (per feature: its standard deviation; per image
            channel: half its range, so pixels map onto [-1, 1]). Errors of
            features with different units are then comparable, and the mean
            of a sample's map is its ``score_type='reconstruction'`` score.
            ``'input'``: ``|x - reconstruct(x)|`` in the units of ``X``. For
            images both differ by one factor per channel.

        Returns
        -------
        errors : ndarray of the shape of ``X``, dtype float64
            Non-negative errors, in the layout of ``X`` (as
            :meth:`reconstruct`).
        """
        if units not in ("scaled", "input"):
            raise ValueError(f"units must be 'scaled' or 'input', got {units!r}.")
        X2d, nd_shape = self._validate_with_layout(X)
        out = np.empty(X2d.shape, dtype=np.float64)

        def use(start, batch, x_hat, z):
            n = len(batch)
            if units == "scaled":
                diff = batch.numpy().astype(np.float64) - x_hat.numpy()
            else:
                diff = (np.asarray(X2d[start:start + n], dtype=np.float64)
                        - self._scaler.inverse_transform(x_hat.numpy()).reshape(n, -1))
            out[start:start + n] = np.abs(diff).reshape(n, -1)

        self._forward_rows(X2d, use)
        return self._in_layout(out, len(X2d), nd_shape)

    def encode(self, X):
        """Latent codes ``z`` of the samples, for downstream use.

        ``z = E1(x)``, the code GANomaly's decoder reconstructs from (with
        ``generator='skip'``: the U-Net's bottleneck code, which carries
        only part of the information because of the skip connections). The
        networks run in evaluation mode: a sample's code depends on that
        sample alone.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features), \
                (n_samples, H, W) or (n_samples, C, H, W)
            Samples, in the layout used in :meth:`fit`.

        Returns
        -------
        Z : ndarray of shape (n_samples, latent_dim), dtype float64
        """
        X2d = self._validate_for_scoring(X)
        out = np.empty((len(X2d), int(self.latent_dim)), dtype=np.float64)

        def use(start, batch, x_hat, z):
            out[start:start + len(batch)] = z.numpy()

        self._forward_rows(X2d, use)
        return out

    # -- persistence --------------------------------------------------------

    def save(self, path, *, include_optimizer=True):
        """Save the fitted detector to one file that loads without running code.

        The file is a zip archive holding the parameters, the fitted
        attributes and the input scaling as JSON, and the weights of the
        generator and the discriminator (and the optimizers' state, and
        large fitted arrays such as ``reference_codes_``) as ``torch.save``
        dicts of CPU tensors with their SHA-256. It
        records the package and format versions. The write is atomic: a
        temporary file in the same folder is written, flushed to disk and
        renamed over ``path``, so a failure never leaves a broken file in
        place of a good one. ``callbacks`` are not saved (a warning says
        so); the training history is.

        Parameters
        ----------
        path : str or path-like
            Destination file (suggested suffix: ``.skgan``).

        include_optimizer : bool, default=True
            Also store both Adam optimizers' state (moment estimates and
            step counts, twice the size of the weights), so that a
            ``warm_start`` fit after :meth:`load` continues exactly as one
            after unpickling. ``False`` writes a smaller file for scoring
            (paper-size networks for 32x32 images: 14 MB instead of 36 MB);
            training continued from it starts Adam afresh.

        Returns
        -------
        path : str
            The path written.

        See Also
        --------
        load : Load a detector saved with this method.
        """
        check_is_fitted(self)
        return save_detector(self, path, include_optimizer=bool(include_optimizer))

    @classmethod
    def load(cls, path, *, device=None):
        """Load a detector written by :meth:`save`.

        No pickle is involved: parameters are JSON and the weights are read
        with ``torch.load(..., weights_only=True)``. A file of an unknown
        format version, with a missing, extra or altered entry (checked with
        SHA-256), or whose contents do not fit together, is refused with a
        ``ValueError`` before any detector is returned.

        Parameters
        ----------
        path : str or path-like
            File written by :meth:`save`.

        device : str, default=None
            Where to put the networks: ``'cpu'``, ``'cuda'``, ... ``None``
            uses the device the model was trained on when it is available
            here and the CPU otherwise, so a model trained on a GPU loads
            on a CPU-only machine.

        Returns
        -------
        detector : GANomalyDetector
            The fitted detector; its scores equal the saved detector's on
            the same device.
        """
        return load_detector(cls, path, device=device)

    def __getstate__(self):
        # The accelerator is a handle on this session's processes and
        # devices, not a setting: pickles leave it out.
        state = dict(super().__getstate__())
        if state.get("accelerator") is not None:
            state["accelerator"] = None
        return state

    def __setstate__(self, state):
        # Pickled before these parameters existed: those networks were built
        # without resizing and trained without early stopping.
        state.setdefault("min_image_size", None)
        state.setdefault("early_stopping", False)
        state.setdefault("n_iter_no_change", 5)
        state.setdefault("ema_decay", 0.0)
        state.setdefault("n_neighbors", 10)
        super().__setstate__(state)
        net = self.__dict__.get("net_")
        if net is not None and "device_" in self.__dict__:
            # skorch puts a net whose device is missing here (a model trained
            # on a GPU, unpickled on a CPU-only machine or worker) on the CPU,
            # with a DeviceWarning: say where the model now is, so that a
            # warm_start fit continues there instead of asking for CUDA.
            self.device_ = str(net.device)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags
