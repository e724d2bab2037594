"""The estimator base shared by GANomalyDetector and SkipGANomalyDetector.

:class:`BaseGANomaly` holds what both detectors share: the parameters and
their constraints, :meth:`~BaseGANomaly.fit` as three named phases (prepare
the data, train, calibrate the score and threshold), one batch iterator
behind every method that runs the networks on user data (``score_samples``,
``reconstruct``, ``anomaly_map``, ``encode``), and model files. A subclass
says which networks it trains (``_net_class``, ``_generator_class``) and
resolves its ``"auto"`` settings (``_auto_min_image_size``,
``_auto_score_type``).
"""

import copy
import warnings
from numbers import Integral, Real
from types import SimpleNamespace

import numpy as np
import torch
from sklearn.base import BaseEstimator, OutlierMixin, _fit_context, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch.callbacks import EarlyStopping, ProgressBar

from ._accelerate import accelerated_net_class, accelerator_device, accelerator_precision
from ._callbacks import EpochCheckpoint, restore_state
from ._data import (InputScaler, ScaledRows, TensorBatches, TrainValid, as_row_source,
                    chunk_rows, flatten_samples, resolve_sample_shape)
from ._device import resolve_device, resolve_precision, to_training_device
from ._persistence import load_detector, save_detector
from ._scores import (AUTO_FALSE_ALARM_RATE, ErrorScore, LatentLOF,
                      conformal_threshold, latent_lof, reference_rows)
from .networks import Discriminator, working_image_size

__all__ = ["BaseGANomaly"]

#: ``max_epochs="auto"``: the paper's epochs, and at least this many
#: optimizer steps on small training sets.
AUTO_EPOCHS = 15
AUTO_MIN_STEPS = 1000

#: ``early_stopping="auto"`` stops early when at least this many training
#: rows are held out (half decide when to stop, half calibrate the
#: threshold): 1,000 training rows at the default validation_fraction. With
#: fewer, a few dozen rows decide, and the held-out loss of the first epochs
#: (a lagging average of few steps) stopped training almost at once; the
#: whole max_epochs="auto" budget did better (benchmarks.studies.stopping_signal).
AUTO_EARLY_STOPPING_MIN_ROWS = 100

#: What early stopping watches on the held-out normal rows: their
#: reconstruction error, which tracks how well the generator has learnt normal
#: data, rather than the whole generator loss, part of which the adversarial
#: game moves (benchmarks.studies.stopping_signal).
EARLY_STOPPING_MONITOR = "valid_loss_con"

#: Adam's first-moment decay, the paper's (and DCGAN's) choice for GANs.
ADAM_BETAS = (0.5, 0.999)

#: Batch size used for scoring: inference needs no gradients, so larger
#: batches than in training are cheap and faster.
MIN_SCORE_BATCH = 256


class BaseGANomaly(OutlierMixin, BaseEstimator):
    """Base class of the GANomaly detectors; use a subclass.

    The parameters are documented on :class:`~skganomaly.GANomalyDetector`
    and :class:`~skganomaly.SkipGANomalyDetector`.
    """

    #: The skorch net class and generator module a subclass trains.
    _net_class = None
    _generator_class = None

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
        "ema_decay": [Interval(Real, 0, 1, closed="left")],
        "loss_weights": [tuple, list],
        "score_type": [StrOptions({"auto", "latent", "reconstruction", "combined",
                                   "latent_lof"})],
        "score_lambda": [Interval(Real, 0, 1, closed="both")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "early_stopping": [StrOptions({"auto"}), "boolean"],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "precision": [StrOptions({"auto", "fp32", "bf16"})],
        "accelerator": [HasMethods(["prepare", "backward", "autocast"]), None],
        "callbacks": [list, None],
        "warm_start": ["boolean"],
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
        ema_decay=0.99,
        loss_weights=(1.0, 50.0, 1.0),
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
        self.ema_decay = ema_decay
        self.loss_weights = loss_weights
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
        self.compile = compile
        self.verbose = verbose
        self.random_state = random_state

    # -- what a subclass decides ----------------------------------------------

    def _auto_min_image_size(self):
        """``min_image_size`` that ``"auto"`` stands for."""
        raise NotImplementedError

    def _auto_score_type(self, sample_shape):
        """``score_type`` that ``"auto"`` stands for, for samples of this shape."""
        raise NotImplementedError

    # -- fitting ----------------------------------------------------------------

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
            warm = bool(self.warm_start) and hasattr(self, "net_")
            data = self._prepare_data(X, warm)
            if not warm:
                self._build(data)
            self._train_and_calibrate(data, warm)
        except BaseException:
            # Bad input, a diverging loss or an interrupt outside the epochs:
            # leave the detector as it was before this call.
            self.__dict__.clear()
            self.__dict__.update(previous)
            raise
        return self

    def _prepare_data(self, X, warm):
        """Phase 1: validate ``X``, hold rows out, learn the input scaling
        (first fit only) and scale. Returns what the other phases need."""
        device = self.device_ if warm else self._resolve_device()
        X2d, nd_shape, source = self._validate_for_fit(X, reset=not warm)
        sample_shape = resolve_sample_shape(self.image_shape, nd_shape, X2d.shape[1])
        if warm and sample_shape != self.sample_shape_:
            raise ValueError(
                f"warm_start=True continues training networks built for samples "
                f"of shape {self.sample_shape_}, but X holds samples of shape "
                f"{sample_shape}. Pass data of the fitted shape, or set "
                "warm_start=False to fit new networks.")
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        train_idx, valid_idx = self._split_holdout(len(X2d), rng)
        stops = self._stops_early(len(valid_idx), warm)
        # One half of the held-out rows decides when to stop, the other
        # calibrates offset_ (and the 'combined' score): the threshold is set
        # on rows that no choice was made on, so its guarantee stays exact.
        # Without early stopping every held-out row calibrates.
        held_out = [valid_idx[0::2], valid_idx[1::2]] if stops else [valid_idx]
        step = chunk_rows(X2d.shape[1])

        def chunks(index):
            return (X2d[index[k:k + step]] for k in range(0, len(index), step))

        if not warm:  # reads (and so validates) every training row
            self._scaler = InputScaler().fit_chunks(lambda: chunks(train_idx),
                                                    sample_shape)
        if source is not None:
            # Rows read on demand are validated when read: read the others
            # once now, so that bad values fail before training, not in it.
            for _ in chunks(np.arange(len(X2d)) if warm else valid_idx):
                pass
        parts = [ScaledRows(X2d, index, self._scaler) if len(index) else None
                 for index in (train_idx, *held_out)]
        if source is None:
            # In memory anyway: scale once, then slice batches (on the GPU
            # when it fits) instead of scaling them again every epoch.
            parts = [None if p is None else p.materialize() for p in parts]
            parts[0] = to_training_device(parts[0], device)
        return SimpleNamespace(X2d=X2d, sample_shape=sample_shape, device=device,
                               rng=rng, seed=seed, stops=stops, train=parts[0],
                               valid=parts[1], calib=parts[-1],
                               epochs=self._epochs(len(train_idx)))

    def _build(self, data):
        """The networks of a first fit (a warm start keeps the fitted ones)."""
        self.sample_shape_ = data.sample_shape
        self.device_ = data.device
        self.precision_ = self._resolve_precision(data.device, data.sample_shape)
        self.do_early_stopping_ = data.stops
        self.net_ = self._make_net(self._network_spec(data.sample_shape), data.device,
                                   seed=data.seed, epochs=data.epochs,
                                   early_stopping=data.stops)

    def _train_and_calibrate(self, data, warm):
        """Phases 2 and 3 on the net's own random stream; a failure undoes
        this call's epochs of a warm start."""
        net = self.net_
        if warm:
            # This fit's data order: after unpickling the same as the first
            # fit's (an int random_state), after load() too.
            net.iterator_train__seed = data.seed
        # The net draws from its own seeded stream of torch's global
        # generators: the caller's random state stays as it was, and fits in
        # other threads do not change what this one draws.
        with net.rng_stream(data.seed, data.device):
            if not warm:
                with net.own_rng():
                    net.initialize()
            checkpoint = dict(net.callbacks_)["epoch_checkpoint"]
            try:
                self._train(data, checkpoint)
                self._calibrate(data)
            except BaseException:
                if warm and checkpoint.start_ is not None:
                    restore_state(net, checkpoint.start_)
                    del net.history[checkpoint.start_epochs_:]
                raise
            finally:
                checkpoint.clear()
        self.n_iter_ = len(net.history)

    def _train(self, data, checkpoint):
        """Phase 2: train for ``data.epochs`` epochs, then re-estimate the
        generator's BatchNorm statistics with its final weights."""
        net = self.net_
        if self.verbose:
            print(self._training_plan(data), flush=True)
        net.partial_fit(TrainValid(data.train, data.valid), epochs=data.epochs)
        self._settle_interrupt(net, checkpoint, data.epochs)
        stopper = dict(net.callbacks_).get("early_stopping")
        self.stopped_early_ = bool(stopper is not None
                                   and stopper.misses_ >= stopper.patience)
        # The running averages of training mix in statistics of earlier
        # weights; after short trainings they can turn the score upside down
        # (see the User Guide). One pass over the training rows fixes that.
        step = int(net.batch_size)
        net.refresh_batchnorm(data.train[start:start + step]
                              for start in range(0, len(data.train), step))

    def _training_plan(self, data):
        """One line for ``verbose``: the rows, the budget and why early
        stopping is on or off."""
        n_train = len(data.train)
        n_held = 0 if data.valid is None else len(data.valid) + (
            len(data.calib) if data.stops else 0)
        steps = -(-n_train // int(self.batch_size))
        line = (f"{type(self).__name__}: {n_train} training rows, {n_held} held out; "
                f"up to {data.epochs} epochs of {steps} steps")
        if data.stops:
            return (f"{line}; early stopping on {len(data.valid)} held-out rows "
                    f"(the other {len(data.calib)} calibrate the threshold).")
        if self.early_stopping == "auto" and n_held < AUTO_EARLY_STOPPING_MIN_ROWS:
            return (f"{line}; no early stopping: {n_held} held-out rows, fewer than "
                    f"the {AUTO_EARLY_STOPPING_MIN_ROWS} early_stopping='auto' needs.")
        return f"{line}; no early stopping."

    def _calibrate(self, data):
        """Phase 3: fix the score (``score_type_`` and the ``score_*_``
        attributes, or the reference codes of ``'latent_lof'``) and the
        threshold ``offset_``, never on rows that trained the networks'
        weights when held-out rows exist."""
        kind = self.score_type
        if kind == "auto":
            kind = self._auto_score_type(self.sample_shape_)
        self.score_type_ = kind
        for name in ("reference_codes_", "n_neighbors_", "_lof"):
            self.__dict__.pop(name, None)
        errors = None
        if kind == "combined":
            rows = data.calib if data.calib is not None else data.train
            errors = self.net_.errors(self._tensor_batches(rows))
        score = ErrorScore.fit(kind, errors, float(self.score_lambda))
        self.score_weights_, self.score_center_, self.score_scale_ = (
            score.weights, score.center, score.scale)
        if kind == "latent_lof":
            self._fit_reference(data.train, data.rng)
        if self.contamination == "auto" and data.calib is not None:
            scores = self._score_batches(self._tensor_batches(data.calib))
            self.offset_ = -float(conformal_threshold(scores, AUTO_FALSE_ALARM_RATE))
            return
        rate = (AUTO_FALSE_ALARM_RATE if self.contamination == "auto"
                else self.contamination)
        # The training rows scored as predict() will score them (for
        # 'latent_lof' the reference rows then count themselves among their
        # neighbours): fit(X).predict(X) flags the contamination rate.
        # Without held-out rows, 'combined' has their errors already.
        scores = (score(errors) if errors is not None and data.calib is None
                  else self._score(data.X2d))
        self.offset_ = float(np.percentile(-scores, 100 * rate))

    def _fit_reference(self, train, rng):
        """Keep the codes of (at most ``MAX_REFERENCE_CODES``) training rows
        and fit the local outlier factor on them."""
        keep = reference_rows(len(train), rng)
        step = self._score_batch_size
        self.reference_codes_ = self.net_.codes(
            train[torch.as_tensor(keep[start:start + step])]
            for start in range(0, len(keep), step))
        # Frozen at fit like the codes: a model file rebuilds the LOF from
        # both, whatever n_neighbors is set to later.
        self.n_neighbors_ = min(int(self.n_neighbors), max(len(keep) - 1, 1))

    def _validate_for_fit(self, X, reset):
        """``(X2d, nd_shape, source)``: validated rows of an ordinary input
        (``source`` is None), or a row source read on demand."""
        self._check_loss_weights()
        source = as_row_source(X)
        if source is None:
            X2d, nd_shape = flatten_samples(X)
            X2d = validate_data(self, X2d, dtype=[np.float64, np.float32],
                                ensure_min_samples=2, reset=reset)
            return X2d, nd_shape, None
        if len(source) < 2:
            raise ValueError(
                f"Found array with {len(source)} sample(s) (shape={source.shape}) "
                f"while a minimum of 2 is required by {type(self).__name__}.")
        validate_data(self, source, skip_check_array=True, reset=reset)
        return source, source.nd_shape, source

    def _check_loss_weights(self):
        weights = self.loss_weights
        if len(weights) != 3 or not all(
                isinstance(w, Real) and not isinstance(w, bool) and np.isfinite(w)
                and w >= 0 for w in weights):
            raise ValueError(
                f"loss_weights must be three finite, non-negative numbers "
                f"(w_adv, w_con, w_enc), got {weights!r}; the paper's are "
                "(1, 50, 1).")

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
            stacklevel=5,
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
                "larger validation_fraction, or early_stopping=False.")
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
        return accelerator_device(self.accelerator, self.device)

    def _resolve_precision(self, device, sample_shape):
        if self.accelerator is None:
            return resolve_precision(self.precision, device, sample_shape)
        return accelerator_precision(self.accelerator, self.precision)

    # -- the networks -------------------------------------------------------------

    def _network_spec(self, sample_shape):
        """What the networks are built from: the shape they work at (images
        enlarged to ``min_image_size``; ``image_size`` is its ``(H, W)``
        when that differs from the samples'), ``latent_dim`` and ``n_filters``.
        Model files store it, so that the networks they rebuild are those
        fitted, whatever the parameters were set to since."""
        work_shape = tuple(sample_shape)
        size = self.min_image_size
        if size == "auto":
            size = self._auto_min_image_size()
        if len(work_shape) == 3:
            work_shape = (work_shape[0],
                          *working_image_size(*work_shape[1:],
                                              None if size is None else int(size)))
        resized = work_shape != tuple(sample_shape)
        return {"work_shape": work_shape, "image_size": work_shape[1:] if resized else None,
                "latent_dim": int(self.latent_dim), "n_filters": int(self.n_filters)}

    def _training_callbacks(self, early_stopping):
        # The checkpoint comes first: it must see each epoch end before any
        # user callback may stop training.
        callbacks = [("epoch_checkpoint", EpochCheckpoint())]
        if early_stopping:
            callbacks.append(("early_stopping", EarlyStopping(
                monitor=EARLY_STOPPING_MONITOR, patience=int(self.n_iter_no_change),
                load_best=True)))
        callbacks += [clone(cb, safe=False) for cb in (self.callbacks or [])]
        if self.verbose >= 2:
            # tqdm redraws its bar in place: fine in a terminal, noise in a
            # log file, so only on request.
            callbacks.append(("progress_bar", ProgressBar()))
        return callbacks

    def _make_net(self, spec, device, seed, epochs, early_stopping=False):
        """The skorch net for networks described by ``spec`` (see
        :meth:`_network_spec`); ``precision_`` must be set."""
        net_class, accelerated = self._net_class, {}
        if self.accelerator is not None:
            net_class = accelerated_net_class(net_class)
            accelerated = dict(accelerator=self.accelerator)
        work_shape = tuple(spec["work_shape"])
        w_adv, w_con, w_enc = (float(w) for w in self.loss_weights)
        return net_class(
            module=self._generator_class,
            module__sample_shape=work_shape,
            module__latent_dim=spec["latent_dim"],
            module__n_filters=spec["n_filters"],
            discriminator=Discriminator,
            discriminator__sample_shape=work_shape,
            discriminator__n_filters=spec["n_filters"],
            optimizer=torch.optim.Adam,
            optimizer__betas=ADAM_BETAS,
            optimizer_discriminator=torch.optim.Adam,
            optimizer_discriminator__betas=ADAM_BETAS,
            lr=self.lr,
            w_adv=w_adv, w_con=w_con, w_enc=w_enc,
            ema_decay=float(self.ema_decay),
            precision=self.precision_,
            image_size=None if spec["image_size"] is None else tuple(spec["image_size"]),
            max_epochs=epochs,
            batch_size=int(self.batch_size),
            iterator_train=TensorBatches,
            iterator_train__shuffle=True,
            iterator_train__seed=seed,
            iterator_train__drop_singleton=True,
            iterator_valid=TensorBatches,
            iterator_valid__batch_size=max(int(self.batch_size), MIN_SCORE_BATCH),
            train_split=None,
            callbacks=self._training_callbacks(early_stopping),
            verbose=int(self.verbose),
            compile=bool(self.compile),
            device=device,
            **accelerated,
        )

    # -- scoring: one batch iterator --------------------------------------------

    @property
    def _score_batch_size(self):
        # Fixed at fit: scoring reads fitted state only.
        return int(self.net_.iterator_valid__batch_size)

    def _batches(self, X2d):
        """``(rows, batch)`` per scoring batch of validated rows: the slice of
        ``X2d`` and its rows scaled, as a float32 tensor. Scaling batch by
        batch keeps memory bounded by the batch size."""
        step = self._score_batch_size
        for start in range(0, len(X2d), step):
            batch = torch.from_numpy(self._scaler.transform(X2d[start:start + step]))
            yield slice(start, start + len(batch)), batch

    def _evaluate(self, X2d, step):
        """``(rows, batch, output)`` per scoring batch: ``output`` is the
        net's ``step`` (see :meth:`skganomaly.net.GANomalyNet.evaluate_batches`)."""
        for rows, batch in self._batches(X2d):
            (output,) = self.net_.evaluate_batches([batch], step)
            yield rows, batch, output

    def _tensor_batches(self, X):
        """Scoring batches of already scaled rows (a tensor or ScaledRows)."""
        step = self._score_batch_size
        return (X[start:start + step] for start in range(0, len(X), step))

    def _errors(self, X2d):
        """Per-sample ``[latent, reconstruction]`` errors of validated rows,
        whatever the score type (the benchmarks' original-evaluation rows
        rescale them over a test set, as the original code did)."""
        errors = np.empty((len(X2d), 2), dtype=np.float64)
        for rows, _, output in self._evaluate(X2d, self.net_.error_step):
            errors[rows] = output.numpy()
        return errors

    def _score_step(self):
        """``(step, to_scores)``: the net's step for this score type and the
        map from its output to anomaly scores."""
        if self.score_type_ == "latent_lof":
            lof, code_step = self._latent_lof(), self.net_.code_step

            def lof_step(x, xb):
                # The codes' local outlier factor on the networks' device, in
                # float64 (autocast leaves float64 operations alone).
                return lof(code_step(x, xb))

            return lof_step, lambda scores: scores.numpy()
        score = ErrorScore(self.score_weights_, self.score_center_, self.score_scale_)
        return self.net_.error_step, lambda errors: score(errors.numpy())

    def _latent_lof(self):
        """The local outlier factor on ``reference_codes_`` (a
        :class:`~skganomaly._scores.LatentLOF` on the networks' device),
        fitted once (and again after :meth:`load`, which stores the codes
        only)."""
        lof = self.__dict__.get("_lof")
        if lof is None:
            lof = self._lof = latent_lof(self.reference_codes_, self.n_neighbors_,
                                         device=self.net_.device)
        elif lof.reference.device != torch.device(self.net_.device):
            lof = self._lof = lof.to(self.net_.device)
        return lof

    def _score_batches(self, batches):
        """Anomaly scores of an iterable of scaled batches."""
        step, to_scores = self._score_step()
        parts = [to_scores(out) for out in self.net_.evaluate_batches(batches, step)]
        return np.concatenate(parts) if parts else np.empty(0)

    def _score(self, X2d):
        """Anomaly scores of validated rows; higher = more abnormal."""
        # One preallocated array: keeping thousands of small per-batch arrays
        # alive fragments the heap, and the process then grows with the
        # number of rows (measured: +110 MiB for 10**6 rows of 20 features,
        # against +8 MiB this way).
        scores = np.empty(len(X2d), dtype=np.float64)
        step, to_scores = self._score_step()
        for rows, _, output in self._evaluate(X2d, step):
            scores[rows] = to_scores(output)
        return scores

    def score_samples(self, X):
        """Opposite of the anomaly score: higher is more normal.

        The anomaly score is the one ``score_type_`` names (see
        ``score_type``). The networks run in evaluation mode and any
        standardisation was fixed in :term:`fit`, so a sample's score
        depends on that sample alone.

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
            Negative anomaly scores (always finite).
        """
        return -self._score(self._validate_with_layout(X)[0])

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

    # -- localization and latent codes ---------------------------------------------

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
        for rows, batch, (x_hat, _) in self._evaluate(X2d, self.net_.forward_step):
            out[rows] = self._scaler.inverse_transform(x_hat.numpy()).reshape(
                len(batch), -1)
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
        for rows, batch, (x_hat, _) in self._evaluate(X2d, self.net_.forward_step):
            n = len(batch)
            if units == "scaled":
                diff = batch.numpy().astype(np.float64) - x_hat.numpy()
            else:
                diff = (np.asarray(X2d[rows], dtype=np.float64)
                        - self._scaler.inverse_transform(x_hat.numpy()).reshape(n, -1))
            out[rows] = np.abs(diff).reshape(n, -1)
        return self._in_layout(out, len(X2d), nd_shape)

    def encode(self, X):
        """Latent codes ``z = E1(x)`` of the samples, for downstream use.

        The networks run in evaluation mode: a sample's code depends on that
        sample alone.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features), \
                (n_samples, H, W) or (n_samples, C, H, W)
            Samples, in the layout used in :meth:`fit`.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_latent), dtype float64
            ``n_latent`` is the ``latent_dim`` the detector was fitted with.
        """
        X2d = self._validate_with_layout(X)[0]
        out = None
        for rows, _, codes in self._evaluate(X2d, self.net_.code_step):
            if out is None:  # the fitted code size, whatever latent_dim is now
                out = np.empty((len(X2d), codes.shape[1]), dtype=np.float64)
            out[rows] = codes.numpy()
        return out

    def _validate_with_layout(self, X):
        """Validated 2-D rows and the per-sample shape of 3-D / 4-D input."""
        check_is_fitted(self)
        source = as_row_source(X)
        if source is not None:
            # Read on demand, batch by batch.
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
                    f"was fitted on samples of shape {self.sample_shape_}.")
        return X2d, nd_shape

    # -- persistence -----------------------------------------------------------------

    def save(self, path, *, include_optimizer=True):
        """Save the fitted detector to one file that loads without running code.

        The file is a zip archive holding the parameters, the fitted
        attributes and the input scaling as JSON, and the weights of the
        generator and the discriminator (and the optimizers' state, and
        large fitted arrays such as ``reference_codes_``) as ``torch.save``
        dicts of CPU tensors with their SHA-256. It records the package and
        format versions. The write is atomic: a temporary file in the same
        folder is written, flushed to disk and renamed over ``path``, so a
        failure never leaves a broken file in place of a good one.
        ``callbacks`` are not saved (a warning says so); the training
        history is.

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
        format, of another detector class, with a missing, extra or altered
        entry (checked with SHA-256), or whose contents do not fit together,
        is refused with a ``ValueError`` before any detector is returned.

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
        detector : instance of this class
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
        lof = state.get("_lof")
        if isinstance(lof, LatentLOF) and lof.reference.device.type != "cpu":
            # A pickle loads where no GPU may be: keep the fitted LOF, on the CPU.
            state["_lof"] = copy.deepcopy(lof).cpu()
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        lof = self.__dict__.get("_lof")
        if lof is not None and not isinstance(lof, LatentLOF):
            # Pickles of earlier versions cached scikit-learn's LOF: refit it.
            del self._lof
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
