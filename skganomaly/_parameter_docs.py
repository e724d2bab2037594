"""The numpydoc text the detectors share: their parameters, attributes and
notes. Each detector fills in what differs (``{fields}``); figures live in
the User Guide and on the Benchmarks page, which the text refers to."""

import textwrap

PARAMETERS = """\
    latent_dim : int, default=100
        Size of the latent code ``z`` (the paper's 100).

    n_filters : int, default=64
        Width of the first convolution of the encoders and the discriminator
        (doubled at each halving of the image size), or the base width of
        the hidden layers (``4 * n_filters`` and ``2 * n_filters``) for
        tabular data. The paper's 64; small images or few features train
        much faster with 16.

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
        before the networks see them, as the paper resizes its inputs to
        32x32; the training losses are computed at that size.
        Reconstructions and reconstruction errors are averaged back down, so
        :meth:`reconstruct` and :meth:`anomaly_map` keep the shape of ``X``.
        ``None`` never resizes. Ignored for tabular data.
        {min_image_size_auto}

    max_epochs : int or "auto", default="auto"
        Passes over the training data. ``"auto"``: the paper's 15 epochs, or
        more on small training sets, enough for at least 1,000 optimizer
        steps (``ceil(1000 / batches per epoch)``): 15 epochs of a few
        thousand rows are too few steps to converge (User Guide, "The three
        losses"). ``0`` gives a usable but untrained model, a starting point
        for ``warm_start=True``.

    batch_size : int, default=64
        Mini-batch size for training, at least 2 (the paper's 64). A
        trailing batch of a single sample is skipped in that epoch
        (BatchNorm cannot train on one sample).

    lr : float, default=2e-4
        Learning rate of the Adam optimizers of generator and discriminator
        (the paper's; Adam's ``betas`` are the paper's ``(0.5, 0.999)``).

    ema_decay : float in [0, 1), default=0.99
        Score with an exponential moving average of the generator's weights
        (Polyak averaging) instead of the weights of the last optimizer
        step: adversarial training moves the score a lot from step to step.
        After step ``t`` the average moves towards the trained weights by
        ``1 - min(ema_decay, (1 + t) / (10 + t))``, so it spans roughly the
        last tenth of the steps, and with 0.99 at most about the last
        hundred. Training continues from the trained weights; early
        stopping, callbacks at an epoch's end, scoring and saved files use
        the average. ``0`` scores the last step's weights, as the paper
        does. Measured effect: User Guide, "Progress, callbacks and early
        stopping", and the Benchmarks page.

    loss_weights : tuple of 3 floats, default=(1.0, 50.0, 1.0)
        {loss_weights}

    score_type : {{'auto', 'latent', 'reconstruction', 'combined', \
            'latent_lof'}}, default='auto'
        What :meth:`score_samples` measures (User Guide, "Other scores"):

        - ``'latent'``: {latent_score}
        - ``'reconstruction'``: mean absolute reconstruction error
          ``mean |x - x_hat|`` in the scaled units the networks see (the
          mean of :meth:`anomaly_map`);
        - ``'combined'``: ``score_lambda * r + (1 - score_lambda) * l`` of
          the reconstruction and latent errors, each standardised with its
          mean and standard deviation on held-out normal rows of
          :term:`fit` (never on test data: a sample's score depends on that
          sample alone);
        - ``'latent_lof'``: the local outlier factor of the sample's code
          ``z`` among the codes of at most 10,000 training rows
          (``reference_codes_``), with ``n_neighbors`` neighbours: it asks
          whether a code lies where normal codes are dense, which helps
          when normal data has many modes. The networks are trained as for
          the other scores;
        - ``'auto'``: {score_type_auto}

    score_lambda : float in [0, 1], default=0.9
        Weight of the reconstruction error in ``score_type='combined'``
        (Skip-GANomaly's lambda). Unused by the other score types.

    n_neighbors : int, default=10
        Neighbours of ``score_type='latent_lof'`` (fewer when there are
        fewer reference codes). 10 did better than LOF's default of 20 on
        the benchmarks' development seed, and is the least LOF's authors
        advise. Unused by the other score types.

    contamination : 'auto' or float, default='auto'
        Sets the threshold ``offset_`` that :meth:`predict` uses (see the
        User Guide on contamination).

        - float in (0, 0.5]: the expected proportion of outliers in the
          training data; ``offset_`` is that percentile of the training
          scores (as in :class:`~sklearn.ensemble.IsolationForest`).
        - ``'auto'``: a false-alarm rate of at most 5 % on normal data:
          ``offset_`` is the split-conformal quantile of the scores of
          held-out training rows (``validation_fraction``) that no choice
          was made on. Without held-out rows, the 5th percentile of the
          training scores.

    validation_fraction : float or None, default=0.1
        Fraction of the training rows held out from the weight updates.
        They give the per-epoch ``valid_loss`` and ``valid_score`` in
        ``net_.history``, decide early stopping and calibrate
        ``contamination='auto'``. ``None`` trains on all rows. Nothing is
        held out when either part would have fewer than two rows.

    early_stopping : 'auto' or bool, default='auto'
        Stop training once the reconstruction error of held-out normal rows
        (``valid_loss_con``) has not improved for ``n_iter_no_change``
        epochs, and keep the weights of the best epoch. The held-out rows
        are split in two: one half decides when to stop, the other
        calibrates the threshold. ``'auto'`` stops early when at least 100
        rows are held out (1,000 training rows at the default
        ``validation_fraction``) and otherwise trains the whole
        ``max_epochs`` budget: a few dozen rows are too few to decide on,
        and the first epochs of a small set are too short to judge (User
        Guide, "Progress, callbacks and early stopping"; Benchmarks page,
        small training sets). ``True`` stops early whenever at least 4 rows
        are held out.

    n_iter_no_change : int, default=5
        Epochs without improvement of ``valid_loss`` before early stopping
        ends training (skorch's ``patience``).

    device : str, default='auto'
        ``'auto'`` (CUDA when available, else CPU), ``'cpu'``, ``'cuda'`` or
        ``'cuda:<index>'``. A model fitted on a GPU can be unpickled on a
        CPU-only machine: it then scores on the CPU and ``device_`` says
        ``'cpu'``.

    precision : {{'auto', 'fp32', 'bf16'}}, default='auto'
        Arithmetic of the networks. ``'bf16'`` runs them under bfloat16
        autocast (weights, optimizer state and losses stay float32; image
        networks use the ``channels_last`` layout) and is refused where the
        hardware has no native bfloat16. ``'auto'``: bf16 for images on
        hardware with native bf16 (recent CUDA GPUs; CPUs with AVX512-BF16
        or AMX), where it is faster with the same ROC AUC (Performance
        page); fp32 otherwise, and for tabular data, which gains nothing.
        The environment variable ``SKGANOMALY_DISABLE_BF16=1`` makes every
        device count as one without native bf16.

    accelerator : accelerate.Accelerator, default=None
        Train through Hugging Face ``accelerate`` (``pip install
        "skganomaly[accelerate]"``): data parallel over several GPUs (one
        process per GPU, started with ``accelerate launch``) and bfloat16
        mixed precision (Scaling page). Its device and ``mixed_precision``
        (``"no"`` or ``"bf16"``) take over from ``device`` and
        ``precision``: leave those at ``'auto'``. Give every process the
        same data and an int ``random_state``. Pickles and :meth:`save`
        leave the accelerator out. ``None`` trains without accelerate.

    callbacks : list of skorch callbacks, default=None
        Passed (cloned) to the skorch net, e.g.
        ``[skorch.callbacks.Checkpoint(dirname="run")]``. For an
        ``EarlyStopping`` of your own, set ``early_stopping=False``.

    warm_start : bool, default=False
        When ``True`` and the detector is fitted, :meth:`fit` trains the
        existing networks for ``max_epochs`` more epochs instead of
        re-initialising them. The input scaling, sample shape, device and
        networks of the first fit are kept (``X`` must have the same
        features); ``offset_`` is computed again.

    compile : bool, default=False
        Compile the generator and the discriminator with ``torch.compile``
        (through skorch). The first batches then take longer while kernels
        are generated; worth it for long trainings on a GPU (Performance
        page). Saved model files hold the uncompiled weights.

    verbose : int, default=0
        ``0`` is silent. ``1`` prints one line per epoch (the losses and the
        epoch's time) and why training stopped early when it did: readable
        in a terminal and in a log file. ``2`` also shows skorch's progress
        bar within each epoch (a tqdm bar redrawn in place).

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, data order and the held-out split.
        With an int, two fits on CPU with the same number of torch threads
        give bit-identical scores, also when they run at once in threads of
        one process, and fitting leaves the global torch and numpy random
        states unchanged."""

ATTRIBUTES = """\
    offset_ : float
        Threshold on :meth:`score_samples`: ``decision_function(X) =
        score_samples(X) - offset_``, negative for outliers.

    net_ : {net_class}
        The fitted skorch net; ``net_.module_`` is the generator
        (:class:`~skganomaly.networks.{generator_class}`),
        ``net_.discriminator_`` the discriminator and ``net_.history`` the
        per-epoch losses.

    sample_shape_ : tuple of int
        Shape of one sample as the networks see it: ``(n_features,)`` for
        tabular data or ``(C, H, W)`` for images.

    score_type_ : str
        The score used (``score_type`` with ``'auto'`` resolved).

    score_center_, score_scale_, score_weights_ : ndarray of shape (2,)
        Except with ``'latent_lof'``, the anomaly score is
        ``sum(score_weights_ * (e - score_center_) / score_scale_)`` over
        the per-sample errors ``e = [latent, reconstruction]``. Center and
        scale are the mean and standard deviation of the errors on held-out
        normal rows for ``'combined'``, and 0 and 1 (raw errors) otherwise.
        All weights are 0 with ``'latent_lof'``.

    reference_codes_ : ndarray of shape (n_reference, n_latent), dtype float32
        Only with ``score_type_ == 'latent_lof'``: the codes ``z`` of
        training rows (never the held-out rows that calibrate ``offset_``)
        that the local outlier factor compares samples with.

    n_neighbors_ : int
        Only with ``score_type_ == 'latent_lof'``: the neighbours it uses.

    device_ : str
        The device the networks are on: the one the model was trained on,
        or the one it was loaded on.

    precision_ : str
        The arithmetic used, ``'fp32'`` or ``'bf16'`` (see ``precision``).

    n_iter_ : int
        Number of epochs trained, counting those of earlier fits continued
        with ``warm_start=True``. With early stopping the weights are those
        of the best epoch, ``n_iter_ - n_iter_no_change`` when training
        stopped early.

    do_early_stopping_ : bool
        Whether early stopping watched held-out rows (``early_stopping``
        resolved for the data of the first :term:`fit`).

    stopped_early_ : bool
        Whether early stopping ended the last :term:`fit` before its
        ``max_epochs`` (the weights are then those of the best epoch).
        ``verbose=1`` prints the plan of a fit and why it stopped.

    n_features_in_ : int
        Number of values per sample seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings."""

NOTES = """\
    **Faults during fit.** A training loss that becomes NaN or infinite
    raises ``FloatingPointError`` naming the epoch; the detector is then left
    as it was before the call, so no model with NaN scores is ever produced.
    ``KeyboardInterrupt`` during training ends it early: the model of the
    last finished epoch is kept, ``offset_`` is set from it and a
    ``UserWarning`` says so.

    **BatchNorm statistics.** After training, the generator's BatchNorm
    statistics are re-estimated with one pass over the training rows and the
    final weights: the running averages of training mix in earlier weights
    and can turn the score upside down after short trainings (User Guide,
    "The score and its sign").

    **Model files.** Fitted detectors pickle (``joblib``) with identical
    scores. :meth:`save` / :meth:`load` write and read a file that loads
    without unpickling code (JSON plus ``torch.load(weights_only=True)``),
    checked with SHA-256 checksums and written atomically.

    **Memory and threads.** Scoring scales and scores one batch of
    ``max(batch_size, 256)`` rows at a time into one preallocated array, so
    memory beyond the input and the scores is bounded by the batch. A fitted
    detector can score from several threads at once.

    **Data larger than memory.** A :class:`numpy.memmap` or a map-style
    :class:`torch.utils.data.Dataset` (items: samples, or ``(sample,
    target)`` pairs whose target is ignored) is read on demand in every
    method, one chunk or batch at a time, with the results of the same data
    in memory (Scaling page).

    **Reproducibility.** With an int ``random_state``, fits on CPU give
    bit-identical scores across runs and processes (same number of torch
    threads, same library versions). On CUDA, cuDNN may pick
    non-deterministic algorithms unless
    ``torch.use_deterministic_algorithms(True)`` is set; CPU and GPU results
    agree to float tolerance only. ``precision='bf16'`` results also depend
    on the batch a sample is scored in."""



def parameters(**fields):
    """:data:`PARAMETERS` with each field's text wrapped to the indentation
    of the line it starts on."""
    lines = PARAMETERS.split("\n")
    wrapped = {}
    for name, text in fields.items():
        line = next(line for line in lines if "{" + name + "}" in line)
        start = len(line) - len(line.lstrip())
        first = line.index("{" + name + "}")
        wrapped[name] = textwrap.fill(
            text, width=76, initial_indent=" " * first,
            subsequent_indent=" " * (start + (2 if line.lstrip().startswith("- ") else 0)),
        )[first:]
    return PARAMETERS.format(**wrapped)
