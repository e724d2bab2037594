"""The skorch training core of GANomaly and Skip-GANomaly.

:class:`GANomalyNet` is a :class:`skorch.NeuralNet` whose module is the
generator. The discriminator and its optimizer are extra skorch components
(``discriminator_``, ``optimizer_discriminator_``), so device moves,
``set_params``, pickling and callbacks cover them like the generator. A
fitted detector's ``net_`` is one of these nets.

A GAN needs two optimizer steps per batch with different losses, so
:meth:`GANomalyNet.train_step` does them explicitly instead of skorch's
"one loss, step every optimizer" default. Each part of a step is a small
method (:meth:`~GANomalyNet.generator_losses`,
:meth:`~GANomalyNet.discriminator_loss`, :meth:`~GANomalyNet.latent_errors`)
that a subclass can override; :class:`SkipGANomalyNet` does.

Inference goes through one iterator, :meth:`GANomalyNet.evaluate_batches`,
which runs a step (:meth:`~GANomalyNet.error_step`,
:meth:`~GANomalyNet.code_step` or :meth:`~GANomalyNet.forward_step`) on each
batch in evaluation mode.

No scikit-learn code lives here; the estimators build and drive these nets.
"""

import contextlib

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import PassthroughScoring
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from torch import nn

from ._callbacks import EpochLog
from ._data import TrainValid
from ._device import fork_global_rng
from .networks import Discriminator, resize_images, weights_init

# The nets are the public part; ema_step and D_COLLAPSE serve the
# benchmarks' studies and tests.
__all__ = ["GANomalyNet", "SkipGANomalyNet"]


def ema_step(average, module, decay, step):
    """Move the tensors ``average`` towards ``module``'s parameters after
    optimizer step ``step`` (counted from 0), with the warmed-up decay
    ``min(decay, (1 + step) / (10 + step))``."""
    decay = min(float(decay), (1 + step) / (10 + step))
    live = [p.detach() for p in module.parameters()]
    torch._foreach_lerp_(average, live, 1.0 - decay)


#: The discriminator is re-initialised when its loss falls below this value
#: (as in the paper's code): a discriminator that wins outright gives the
#: generator no useful gradient.
D_COLLAPSE = 1e-5


class GANomalyNet(NeuralNet):
    """skorch net training a GANomaly generator beside a discriminator.

    Parameters
    ----------
    module : type or instance of :class:`~skganomaly.networks.Generator`
    discriminator : type or instance of
        :class:`~skganomaly.networks.Discriminator`; configure with
        ``discriminator__*`` parameters.
    optimizer_discriminator : torch optimizer class
        Configure with ``optimizer_discriminator__*`` (defaults to the
        generator's ``lr``).
    w_adv, w_con, w_enc : float
        Weights of the feature-matching, reconstruction (L1) and latent (L2)
        losses of the generator.
    precision : {"fp32", "bf16"}
        ``"bf16"`` runs the networks under ``torch.autocast`` with bfloat16
        (and image modules in ``channels_last`` memory format); losses,
        optimizer states and weights stay float32.
    ema_decay : float in [0, 1)
        Decay per training step of an exponential moving average of the
        generator's weights (0: no averaging). When averaging, ``module_``
        holds the averaged weights outside training epochs: validation,
        callbacks (``EarlyStopping(load_best=True)`` included), scoring and
        saving see them, while the optimizer trains the current weights.
        The decay warms up as ``min(ema_decay, (1 + t) / (10 + t))`` after
        ``t`` steps, so the average does not remember the initial weights.
        Each call to ``fit``/``partial_fit`` starts a new average from the
        weights in ``module_``.
    image_size : tuple of int or None
        ``(H, W)`` the networks work at: image batches of another size are
        resized to it as they come in (:meth:`prepare_input`), so training
        losses are computed at this size. Reconstructions handed out
        (:meth:`forward_step`) and reconstruction errors
        (:meth:`error_step`) are resized back to the size of the batches
        given. ``None``: images are used at their own size.
    **kwargs
        Passed to :class:`skorch.NeuralNet`.

    Notes
    -----
    History keys per epoch: ``train_loss`` (weighted generator loss),
    ``train_loss_adv``, ``train_loss_con``, ``train_loss_enc``,
    ``train_loss_d`` (discriminator BCE), ``d_reinit`` (times the
    discriminator was re-initialised) and, with validation data,
    ``valid_loss`` (generator loss on held-out normal rows, networks in
    evaluation mode), ``valid_loss_con`` (its reconstruction part, unweighted)
    and ``valid_score`` (their mean latent error).
    """

    def __init__(self, module, *args, discriminator=Discriminator,
                 optimizer_discriminator=torch.optim.Adam,
                 w_adv=1.0, w_con=50.0, w_enc=1.0, precision="fp32",
                 image_size=None, ema_decay=0.0, criterion=nn.L1Loss, **kwargs):
        self.discriminator = discriminator
        self.ema_decay = ema_decay
        self.precision = precision
        self.image_size = image_size
        self.optimizer_discriminator = optimizer_discriminator
        self.w_adv = w_adv
        self.w_con = w_con
        self.w_enc = w_enc
        super().__init__(module, *args, criterion=criterion, **kwargs)

    @property
    def _default_callbacks(self):
        # skorch's PrintLog last (it prints what the others recorded), in a
        # version that leaves colours out of log files.
        defaults = [(name, cb) for name, cb in super()._default_callbacks
                    if name != "print_log"]
        return [
            *defaults,
            ("train_loss_adv", PassthroughScoring(name="train_loss_adv", on_train=True)),
            ("train_loss_con", PassthroughScoring(name="train_loss_con", on_train=True)),
            ("train_loss_enc", PassthroughScoring(name="train_loss_enc", on_train=True)),
            ("train_loss_d", PassthroughScoring(name="train_loss_d", on_train=True)),
            ("valid_score", PassthroughScoring(name="valid_score")),
            ("valid_loss_con", PassthroughScoring(name="valid_loss_con")),
            ("print_log", EpochLog()),
        ]

    # -- components ---------------------------------------------------------

    def initialize_module(self):
        super().initialize_module()
        kwargs = self.get_params_for("discriminator")
        self.discriminator_ = self.initialized_instance(self.discriminator, kwargs)
        if not isinstance(self.module, nn.Module):
            self.module_.apply(weights_init)
        if not isinstance(self.discriminator, nn.Module):
            self.discriminator_.apply(weights_init)
        if self._channels_last:
            self.module_.to(memory_format=torch.channels_last)
            self.discriminator_.to(memory_format=torch.channels_last)
        return self

    # -- precision ----------------------------------------------------------

    @property
    def _channels_last(self):
        # oneDNN / cuDNN bf16 convolutions are fastest on NHWC tensors.
        shape = getattr(self.module_, "sample_shape", ())
        return self.precision == "bf16" and len(shape) == 3

    def autocast(self):
        """Context in which the networks run (bf16 autocast or a no-op)."""
        if self.precision != "bf16":
            return contextlib.nullcontext()
        return torch.autocast(torch.device(self.device).type, dtype=torch.bfloat16)

    def prepare_input(self, Xi):
        """Move a batch to the device, resized to ``image_size`` (NHWC for
        bf16 image models)."""
        x = to_tensor(Xi, device=self.device)
        if self.image_size is not None and x.ndim == 4:
            x = resize_images(x, self.image_size)
        if self._channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def initialize_optimizer(self, triggered_directly=None):
        named = self.module_.named_parameters()
        args, kwargs = self.get_params_for_optimizer("optimizer", named)
        self.optimizer_ = self.optimizer(*args, **kwargs)
        named = self.discriminator_.named_parameters()
        args, kwargs = self.get_params_for_optimizer("optimizer_discriminator", named)
        self.optimizer_discriminator_ = self.optimizer_discriminator(*args, **kwargs)
        return self

    def get_all_learnable_params(self):
        # Only the generator is "the" model; the discriminator has its own
        # optimizer (see initialize_optimizer).
        yield from self.module_.named_parameters()

    def reinitialize_discriminator(self):
        """Re-draw the discriminator's weights (the paper's collapse rule).

        The optimizer keeps its state, as in the paper's code.
        """
        with self.own_rng():
            self.discriminator_.apply(weights_init)
        self.history.record_batch("d_reinit", 1)

    # -- random numbers -----------------------------------------------------

    @contextlib.contextmanager
    def rng_stream(self, seed, device="cpu"):
        """Within this context the net has its own stream of torch's global
        generators (CPU, and ``device`` when it is a CUDA device): the one
        ``torch.manual_seed(seed)`` starts. :meth:`own_rng` draws from it.
        The stream is dropped at the end (nothing of it is pickled)."""
        with fork_global_rng(device) as cuda:
            torch.manual_seed(seed)
            self._rng_stream = device, self._rng_get(cuda)
        try:
            yield
        finally:
            del self._rng_stream

    @contextlib.contextmanager
    def own_rng(self):
        """Run with torch's global generators set to this net's stream (see
        :meth:`rng_stream`), holding the process-wide lock; the caller's
        states are restored afterwards. Outside :meth:`rng_stream`, the
        global generators as they are."""
        stream = self.__dict__.get("_rng_stream")
        if stream is None:
            yield
            return
        device, states = stream
        with fork_global_rng(device) as cuda:
            torch.set_rng_state(states[0])
            for cuda_device, state in zip(cuda, states[1:]):
                torch.cuda.set_rng_state(state, cuda_device)
            try:
                yield
            finally:
                self._rng_stream = device, self._rng_get(cuda)

    @staticmethod
    def _rng_get(cuda):
        return [torch.get_rng_state(), *(torch.cuda.get_rng_state(d) for d in cuda)]

    # -- weight averaging ---------------------------------------------------

    def _start_average(self):
        """Per fit: the running average starts at the current weights."""
        self._ema = None
        if self.ema_decay > 0:
            params = [p.detach() for p in self.module_.parameters()]
            self._ema = {"steps": 0, "average": [p.clone() for p in params],
                         "live": None}

    def update_average(self):
        """One step of the moving average of the generator's weights (called
        after each generator update)."""
        ema = getattr(self, "_ema", None)
        if ema is None:
            return
        ema_step(ema["average"], self.module_, self.ema_decay, ema["steps"])
        ema["steps"] += 1

    def _hold(self, which):
        """Put the ``"live"`` (trained) or ``"average"`` weights into
        ``module_``, keeping the others aside."""
        ema = getattr(self, "_ema", None)
        if ema is None:
            return
        params = [p.detach() for p in self.module_.parameters()]
        if which == "average":
            ema["live"] = [p.clone() for p in params]
            source = ema["average"]
        elif ema["live"] is not None:
            source = ema["live"]
        else:
            return
        with torch.no_grad():  # once per epoch: a plain loop is cheap
            for p, value in zip(params, source):
                p.copy_(value)

    @contextlib.contextmanager
    def _live_weights(self):
        self._hold("live")
        try:
            yield
        finally:
            self._hold("average")

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        # Train the live weights; everything after a training epoch
        # (validation, callbacks, the fitted model) sees the average.
        with self._live_weights() if training else contextlib.nullcontext():
            return super().run_single_epoch(iterator, training, prefix, step_fn,
                                            **fit_params)

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        if not self.initialized_:
            self.initialize()
        self._start_average()
        try:
            return super().partial_fit(X, y, classes, **fit_params)
        finally:
            self.__dict__.pop("_ema", None)

    # -- data ---------------------------------------------------------------

    def get_split_datasets(self, X, y=None, **fit_params):
        if isinstance(X, TrainValid):
            train = self.get_dataset(X.train)
            valid = None if X.valid is None else self.get_dataset(X.valid)
            return train, valid
        return super().get_split_datasets(X, y, **fit_params)

    def check_data(self, X, y=None):
        pass

    # -- losses -------------------------------------------------------------

    def generator_losses(self, x, x_hat, z, z_hat, real_features, fake_features,
                         fake_logits=None):
        """Unweighted ``(adv, con, enc)`` losses of the generator.

        ``adv`` matches the discriminator's penultimate features of real and
        generated inputs (L2), ``con`` is the L1 reconstruction error and
        ``enc`` the L2 distance between ``z`` and ``z_hat``. ``fake_logits``
        (the discriminator's logits of ``x_hat``) are unused here; subclasses
        with a classic adversarial loss need them.
        """
        adv = nn.functional.mse_loss(fake_features, real_features)
        con = self.criterion_(x_hat, x)
        enc = nn.functional.mse_loss(z_hat, z)
        return adv, con, enc

    def weighted_generator_loss(self, adv, con, enc):
        return self.w_adv * adv + self.w_con * con + self.w_enc * enc

    def discriminator_loss(self, real_logits, fake_logits):
        """Binary cross-entropy of real (label 1) vs generated (label 0)."""
        bce = nn.functional.binary_cross_entropy_with_logits
        return 0.5 * (bce(real_logits, torch.ones_like(real_logits))
                      + bce(fake_logits, torch.zeros_like(fake_logits)))

    def latent_errors(self, x, x_hat, z, z_hat):
        """Per-sample latent error (float64, higher = more anomalous):
        GANomaly's score, the mean squared distance of ``z`` and ``z_hat``,
        computed in float64 (no overflow for extreme inputs). Subclasses
        compare other representations."""
        return (z.double() - z_hat.double()).pow(2).flatten(1).mean(dim=1)

    def reconstruction_errors(self, x, x_hat):
        """Per-sample mean absolute reconstruction error (float64), in the
        scaled units the networks see."""
        return (x.double() - x_hat.double()).abs().flatten(1).mean(dim=1)

    # -- steps --------------------------------------------------------------

    def backward(self, loss):
        """Back-propagate ``loss`` (``accelerator.backward`` in
        :class:`~skganomaly._accelerate.AcceleratedGANomalyNet`)."""
        loss.backward()

    def reduce_losses(self, losses):
        """A batch's losses as the history records them and the training
        decisions (divergence, discriminator re-initialisation, callbacks)
        see them: a 1-D tensor, returned as it is. Data-parallel subclasses
        return the mean over processes, so that every process decides alike."""
        return losses

    def generator_step_discriminator(self):
        """The discriminator that the generator step runs (its weights are not
        updated there): ``discriminator_``. Data-parallel subclasses return the
        module inside the wrapper that synchronises gradients, so the
        generator's backward pass starts no discriminator synchronisation."""
        return self.discriminator_

    def train_step(self, batch, **fit_params):
        """One generator step, then one discriminator step (paper's order)."""
        self._set_training(True)
        Xi, _ = unpack_data(batch)
        x = self.prepare_input(Xi)
        disc = self.discriminator_
        disc_g = self.generator_step_discriminator()

        # Generator: make the reconstruction look real to D (feature
        # matching), reconstruct x, and keep z_hat close to z.
        with self.autocast():
            x_hat, z, z_hat = self.infer(x, **fit_params)
            real_logits, real_features = disc_g(x)
            gen_logits, fake_features = disc_g(x_hat)
        # Losses in float32 whatever the precision of the forward pass.
        x_hat, z, z_hat = x_hat.float(), z.float(), z_hat.float()
        adv, con, enc = self.generator_losses(
            x, x_hat, z, z_hat, real_features.detach().float(), fake_features.float(),
            fake_logits=gen_logits.float())
        loss = self.weighted_generator_loss(adv, con, enc)
        g_values = self.reduce_losses(torch.stack([loss, adv, con, enc]).detach())
        self._check_finite(g_values[0], "generator")
        self.optimizer_.zero_grad(set_to_none=True)
        self.backward(loss)
        self.notify("on_grad_computed",
                    named_parameters=list(self.module_.named_parameters()),
                    batch=batch, training=True)
        self.optimizer_.step()
        self.update_average()

        # Discriminator: real vs the (fixed) reconstruction. real_logits
        # only depend on D's weights, untouched so far, so reuse them.
        with self.autocast():
            fake_logits, _ = disc(x_hat.detach())
        loss_d = self.discriminator_loss(real_logits.float(), fake_logits.float())
        d_value = self.reduce_losses(loss_d.detach()[None])
        self._check_finite(d_value[0], "discriminator")
        self.optimizer_discriminator_.zero_grad(set_to_none=True)
        self.backward(loss_d)
        self.optimizer_discriminator_.step()

        # One transfer to the host for every recorded value.
        _, *parts, d = torch.cat([g_values, d_value]).tolist()
        if d < D_COLLAPSE:
            self.reinitialize_discriminator()
        for name, value in zip(["adv", "con", "enc", "d"], [*parts, d]):
            self.history.record_batch(f"train_loss_{name}", value)
        return {"loss": g_values[0], "y_pred": x_hat.detach()}

    def validation_step(self, batch, **fit_params):
        """Generator loss and anomaly score on held-out normal rows, in
        evaluation mode (no weight update, BatchNorm running statistics)."""
        self._set_training(False)
        Xi, _ = unpack_data(batch)
        x = self.prepare_input(Xi)
        with torch.no_grad():
            with self.autocast():
                x_hat, z, z_hat = self.infer(x, **fit_params)
                _, real_features = self.discriminator_(x)
                fake_logits, fake_features = self.discriminator_(x_hat)
            x_hat, z, z_hat = x_hat.float(), z.float(), z_hat.float()
            parts = self.generator_losses(x, x_hat, z, z_hat, real_features.float(),
                                          fake_features.float(),
                                          fake_logits=fake_logits.float())
            loss = self.weighted_generator_loss(*parts)
            with self.autocast():
                score = self.latent_errors(x, x_hat, z, z_hat).mean()
            loss, score, con = self.reduce_losses(
                torch.stack([loss.double(), score, parts[1].double()]))
        self.history.record_batch("valid_score", score.item())
        self.history.record_batch("valid_loss_con", con.item())
        return {"loss": loss.float(), "y_pred": x_hat}

    def _check_finite(self, loss, which):
        if not torch.isfinite(loss):
            epoch = len(self.history)
            raise FloatingPointError(
                f"The {which} loss became {loss.item()} in epoch {epoch}: training "
                "diverged. Likely causes: a learning rate too high for this data "
                "(try a smaller lr) or extreme input values. The model was not "
                "changed by this batch."
            )

    # -- after training -----------------------------------------------------

    def refresh_batchnorm(self, batches, module=None):
        """Re-estimate the generator's BatchNorm running statistics with its
        final weights: one pass over ``batches`` (no gradients), each layer's
        statistics averaged over the pass instead of the exponential average
        kept during training, which mixes in batches seen with earlier
        weights. Batches of one sample are skipped. ``module``: another
        generator to refresh the same way (default: ``module_``)."""
        module = self.module_ if module is None else module
        norms = [m for m in module.modules()
                 if isinstance(m, nn.modules.batchnorm._BatchNorm)
                 and m.track_running_stats]
        if not norms:
            return
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average
        module.train()
        try:
            with torch.no_grad(), self.autocast():
                for xb in batches:
                    if len(xb) > 1:
                        module(self.prepare_input(xb))
        finally:
            for m, momentum in zip(norms, momenta):
                m.momentum = momentum
            module.eval()
            self._set_training(False)

    # -- inference ----------------------------------------------------------

    def evaluate_batches(self, batches, step):
        """Run ``step(x, xb)`` on each batch in evaluation mode and yield its
        result as float32/float64 CPU tensors.

        ``batches`` is an iterable of float32 tensors of scaled inputs;
        ``x`` is the batch prepared for the networks (on the device,
        resized, NHWC for bf16 images) and ``xb`` the batch as given. The
        networks run in evaluation mode (BatchNorm running statistics),
        under ``torch.inference_mode()`` and the net's precision, so a
        sample's result depends on that sample alone. The one loop behind
        every score, code and reconstruction a detector hands out.
        """
        self._set_training(False)
        for xb in batches:
            with torch.inference_mode(), self.autocast():
                out = step(self.prepare_input(xb), xb)
            yield tuple(t.cpu() for t in out) if isinstance(out, tuple) else out.cpu()

    def error_step(self, x, xb):
        """Per-sample ``[latent, reconstruction]`` errors (float64, shape
        ``(n, 2)``): :meth:`latent_errors` and :meth:`reconstruction_errors`,
        the latter at the size of the batch given."""
        x_hat, z, z_hat = self.module_(x)
        # The batch at its own size (a second transfer only when
        # prepare_input resized it).
        x_in = x if self.image_size is None or x.ndim != 4 else to_tensor(
            xb, device=self.device)
        return torch.stack([
            self.latent_errors(x, x_hat, z, z_hat),
            self.reconstruction_errors(x_in, self._at_size_of(x_hat, x_in)),
        ], dim=1)

    def code_step(self, x, xb):
        """Latent codes ``z = E1(x)`` (float32, shape ``(n, latent_dim)``)."""
        return self.module_.encode(x).float().flatten(1)

    def forward_step(self, x, xb):
        """``(x_hat, z)`` as float32, ``x_hat`` at the size of the batch given."""
        x_hat, z, _ = self.module_(x)
        return self._at_size_of(x_hat, xb).float().contiguous(), z.float().flatten(1)

    def errors(self, batches):
        """:meth:`error_step` of all batches as one float64 array ``(n, 2)``."""
        parts = [e.numpy() for e in self.evaluate_batches(batches, self.error_step)]
        return np.concatenate(parts) if parts else np.empty((0, 2), dtype=np.float64)

    def codes(self, batches):
        """:meth:`code_step` of all batches as one float32 array."""
        parts = [c.numpy() for c in self.evaluate_batches(batches, self.code_step)]
        if not parts:
            return np.empty((0, int(self.module__latent_dim)), dtype=np.float32)
        return np.concatenate(parts)

    @staticmethod
    def _at_size_of(x_hat, x):
        """Reconstructions at the image size of the batch ``x`` given (undoes
        the resizing of :meth:`prepare_input`)."""
        return resize_images(x_hat, x.shape[-2:]) if x_hat.ndim == 4 else x_hat


class SkipGANomalyNet(GANomalyNet):
    """Skip-GANomaly (Akcay et al., IJCNN 2019) on the GANomaly training core.

    The module is a :class:`~skganomaly.networks.SkipGenerator` (an
    encoder-decoder with skip connections, no second encoder). Input and
    reconstruction are compared in the discriminator's feature space
    ``f(.)`` (its penultimate activations) instead of by a second encoder.

    Generator losses (weights ``w_adv``, ``w_con``, ``w_enc`` as in
    :class:`GANomalyNet`; the paper uses 1, 40, 1):

    * ``adv``: the classic adversarial loss, binary cross-entropy of the
      discriminator's logits of ``x_hat`` against the label "real";
    * ``con``: L1 reconstruction error;
    * ``enc``: the paper's latent loss, the L2 distance between ``f(x)``
      and ``f(x_hat)`` (an adversarial loss on discriminator features).

    :meth:`latent_errors` is the mean squared distance of ``f(x)`` and
    ``f(x_hat)``, with the discriminator in evaluation mode.
    """

    def generator_losses(self, x, x_hat, z, z_hat, real_features, fake_features,
                         fake_logits=None):
        bce = nn.functional.binary_cross_entropy_with_logits
        adv = bce(fake_logits, torch.ones_like(fake_logits))
        con = self.criterion_(x_hat, x)
        enc = nn.functional.mse_loss(fake_features, real_features)
        return adv, con, enc

    def latent_errors(self, x, x_hat, z, z_hat):
        _, real = self.discriminator_(x)
        _, fake = self.discriminator_(x_hat.to(x.dtype))
        return (real.double() - fake.double()).pow(2).flatten(1).mean(dim=1)
