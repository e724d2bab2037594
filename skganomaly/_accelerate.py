"""Multi-GPU and mixed-precision training through Hugging Face ``accelerate``.

:class:`AcceleratedGANomalyNet` (and :class:`AcceleratedSkipGANomalyNet`)
add skorch's :class:`~skorch.hf.AccelerateMixin` to the training core.
:class:`~skganomaly.GANomalyDetector` and :class:`~skganomaly.SkipGANomalyDetector`
build one when their ``accelerator``
parameter is set; nothing here is public API.

What the mixin does not cover, because GANomaly's training step is its own
(two losses, two optimizers), is done here:

* Both backward passes go through ``accelerator.backward`` and the networks
  run under ``accelerator.autocast()`` (the :meth:`autocast` hook, also used
  for scoring). The mixin prepares every module and optimizer that skorch
  knows of, so the discriminator and its optimizer (extra skorch components)
  are prepared like the generator.
* Under data parallelism (several processes, ``DistributedDataParallel``):

  - **Data.** Every process holds all training rows; the training iterator
    (:class:`~skganomaly.net.TensorBatches`) draws the same shuffled order
    on every process (same seed) and each process takes every
    ``num_processes``-th batch of it (:meth:`TensorBatches.shard`), padded
    by wrapping around so that all processes run the same number of full
    batches. ``batch_size`` is per process: a step sees ``batch_size *
    num_processes`` rows. Every process validates on all held-out rows (a
    forward pass over a tenth of the data). Before training, the processes
    compare a checksum of their rows and seed, and refuse to train on
    different data (an unseeded ``random_state`` draws a different split on
    each process).
  - **Decisions.** The losses of each batch are averaged over the processes
    before they are checked, recorded or acted upon, so divergence errors,
    the discriminator's re-initialisation (whose new weights are then
    broadcast from the main process) and callbacks such as
    ``EarlyStopping`` decide alike everywhere; no process is left waiting.
  - **The generator step** runs the discriminator module *inside* its
    ``DistributedDataParallel`` wrapper: the generator's loss does not use
    every discriminator weight (feature matching skips its last layer),
    which the wrapper would take for an error; the discriminator's
    gradients of that pass are discarded anyway.
  - At the end of training the BatchNorm statistics of the main process are
    broadcast, so every process ends with the same networks and computes the
    same scores and threshold on its own (no communication after training).

* After training the modules and optimizers are unwrapped (plain torch
  objects again) and released by the accelerator, which would otherwise
  keep every fitted model alive.
* **Pickling** drops the accelerator (a handle on the running processes):
  a pickled or copied net is an ordinary
  :class:`~skganomaly.net.GANomalyNet` on the accelerator's device, which
  unpickles without ``accelerate``.

``accelerate`` is imported lazily: this module loads without it.
"""

from itertools import chain

import torch
from skorch.hf import AccelerateMixin

from ._data import TensorBatches, TrainValid
from ._device import bf16_supported, inner_module, resolve_device, same_device
from .net import GANomalyNet, SkipGANomalyNet

__all__ = ["AcceleratedGANomalyNet", "AcceleratedSkipGANomalyNet",
           "accelerated_net_class", "accelerator_device", "accelerator_precision",
           "print_on_main_process"]

#: ``accelerator.mixed_precision`` -> the package's ``precision``.
PRECISION_OF = {"no": "fp32", "bf16": "bf16"}

#: Distributed setups that shard the model itself; GANomaly's two-model step
#: is written for data parallelism only.
UNSUPPORTED_DISTRIBUTED = {"DEEPSPEED", "FSDP", "MEGATRON_LM"}

#: Attributes of the mixin that a pickled (plain) net does not keep.
_ACCELERATOR_ONLY = ("accelerator", "unwrap_after_train", "_wrapped_with_accelerator",
                     "callbacks__print_log__sink")


def check_accelerator(accelerator):
    """Refuse accelerator settings this training step does not support."""
    if accelerator.mixed_precision not in PRECISION_OF:
        raise ValueError(
            f"The accelerator's mixed_precision={accelerator.mixed_precision!r} is "
            f"not supported; use one of {sorted(PRECISION_OF)} (bf16 needs no loss "
            "scaling, which GANomaly's two optimizers would share).")
    if accelerator.gradient_accumulation_steps != 1:
        raise ValueError(
            "Gradient accumulation is not supported (the accelerator has "
            f"gradient_accumulation_steps={accelerator.gradient_accumulation_steps}); "
            "use a larger batch_size or more processes instead.")
    kind = getattr(accelerator.distributed_type, "value", str(accelerator.distributed_type))
    if kind in UNSUPPORTED_DISTRIBUTED:
        raise ValueError(
            f"distributed_type={kind} is not supported: GANomalyDetector trains with "
            "data parallelism (one process per device, DistributedDataParallel) only.")


def accelerator_device(accelerator, device):
    """The device (as a string) of a fit with ``accelerator``.

    ``device`` is the estimator's parameter: ``"auto"`` defers to the
    accelerator; any other value must name the accelerator's device,
    otherwise the settings contradict each other.
    """
    check_accelerator(accelerator)
    own = torch.device(accelerator.device)
    if device != "auto":
        if not same_device(resolve_device(device), own):
            raise ValueError(
                f"device={str(device)!r} contradicts the accelerator, which runs this "
                f"process on {str(own)!r}. With an accelerator, leave device='auto'.")
    return "cpu" if own.type == "cpu" else str(own)  # not "cpu:0"


def accelerator_precision(accelerator, precision):
    """The precision (``"fp32"`` or ``"bf16"``) of a fit with ``accelerator``:
    its ``mixed_precision``; ``precision`` other than ``"auto"`` must agree."""
    own = PRECISION_OF[accelerator.mixed_precision]
    if precision not in ("auto", own):
        raise ValueError(
            f"precision={precision!r} contradicts the accelerator's "
            f"mixed_precision={accelerator.mixed_precision!r}. With an accelerator, "
            "leave precision='auto' (set mixed_precision on the Accelerator).")
    if own == "bf16" and not bf16_supported(accelerator.device):
        # Emulated bf16 runs many times slower than fp32 (one CPU matmul:
        # seconds instead of milliseconds): refuse it, as precision='bf16' is.
        raise ValueError(
            f"The accelerator's mixed_precision='bf16' was requested but device "
            f"{str(accelerator.device)!r} has no native bfloat16 support; create "
            "the Accelerator with mixed_precision='no'.")
    return own


def print_on_main_process(*args, **kwargs):
    """``print`` on the main process only: the sink of skorch's ``PrintLog``
    (a module-level function pickles; ``Accelerator.print`` would drag the
    accelerator into every pickle)."""
    try:
        from accelerate import PartialState
    except ImportError:  # unpickled where accelerate is not installed
        PartialState = None
    if PartialState is None or PartialState().is_main_process:
        print(*args, **kwargs)


class AcceleratedGANomalyNet(AccelerateMixin, GANomalyNet):
    """:class:`~skganomaly.net.GANomalyNet` trained through an
    ``accelerate.Accelerator`` (see the module docstring).

    Parameters
    ----------
    accelerator : accelerate.Accelerator
        With ``mixed_precision`` ``"no"`` or ``"bf16"`` (pass ``precision``
        to match), no gradient accumulation.
    device : str or torch.device
        The accelerator's device (the skorch mixin's ``device=None`` is not
        used: a pickled net then loads on the right device).
    **kwargs
        As for :class:`~skganomaly.net.GANomalyNet` and
        :class:`~skorch.hf.AccelerateMixin`.
    """

    _plain_class = GANomalyNet

    def _validate_params(self):
        # Skips the mixin's rule "device=None when the accelerator places
        # the modules": here device *is* the accelerator's device.
        super(AccelerateMixin, self)._validate_params()
        if self.device is None or not same_device(self.device, self.accelerator.device):
            raise ValueError(
                f"device must be the accelerator's device "
                f"({str(self.accelerator.device)!r}), got {self.device!r}.")

    def _initialize_callbacks(self):
        if self.callbacks__print_log__sink == "auto":
            # skorch's PrintLog calls any sink but print whatever verbose is.
            self.callbacks__print_log__sink = (print_on_main_process if self.verbose
                                               else print)
        return super()._initialize_callbacks()

    def _initialize_accelerator(self):
        # A criterion without weights (the L1 loss) needs no preparing, and
        # accelerate would wrap it in DistributedDataParallel on several CPU
        # processes, which refuses modules without parameters.
        criteria = self._criteria
        self._criteria = [name for name in criteria
                          if any(True for _ in getattr(self, name + "_").parameters())]
        try:
            return super()._initialize_accelerator()
        finally:
            self._criteria = criteria

    @property
    def _multi_process(self):
        return self.accelerator.num_processes > 1

    # -- the step's hooks ---------------------------------------------------

    def autocast(self):
        return self.accelerator.autocast()

    def backward(self, loss):
        self.accelerator.backward(loss)

    def reduce_losses(self, losses):
        if not self._multi_process:
            return losses
        return self.accelerator.reduce(losses, reduction="mean")

    def generator_step_discriminator(self):
        return inner_module(self.discriminator_)

    def reinitialize_discriminator(self):
        super().reinitialize_discriminator()
        if self._multi_process:  # every process re-drew its own weights
            self._broadcast_from_main(self.discriminator_, parameters=True)

    def _broadcast_from_main(self, module, parameters):
        from accelerate.utils import broadcast

        module = inner_module(module)
        tensors = [t.detach() for t in chain(
            module.parameters() if parameters else (), module.buffers())]
        with torch.no_grad():
            for mine, main in zip(tensors, broadcast(tensors, from_process=0)):
                if main is not mine:
                    mine.copy_(main)

    # -- data -----------------------------------------------------------------

    def get_iterator(self, dataset, training=False):
        iterator = super().get_iterator(dataset, training=training)
        if training and self._multi_process:
            from accelerate.data_loader import DataLoaderStateMixin

            if isinstance(iterator, TensorBatches):
                iterator.shard(self.accelerator.process_index,
                               self.accelerator.num_processes)
            elif not isinstance(iterator, DataLoaderStateMixin):
                # Not sharded by accelerate either: every process would
                # train on every row.
                raise TypeError(
                    f"Cannot shard the training iterator {type(iterator).__name__} "
                    "over processes; use TensorBatches or a torch DataLoader.")
        return iterator

    def _check_same_data(self, X):
        """Every process must train on the same rows in the same order."""
        seed = self.get_params_for("iterator_train").get("seed")
        values = [-1.0 if seed is None else float(seed)]
        parts = (X.train, X.valid) if isinstance(X, TrainValid) else (X,)
        for part in parts:
            if isinstance(part, torch.Tensor):
                rows = part.reshape(len(part), -1).sum(dim=1, dtype=torch.float64)
                rank = torch.arange(1, len(rows) + 1, dtype=torch.float64,
                                    device=rows.device)
                values += [len(rows), rows.sum().item(), (rows * rank).sum().item()]
            else:
                values += [-1.0, 0.0, 0.0]
        mine = torch.tensor([values], dtype=torch.float64, device=self.accelerator.device)
        every = self.accelerator.gather(mine)
        if not torch.allclose(every, every[:1].expand_as(every), rtol=1e-6, atol=0):
            raise ValueError(
                f"The {self.accelerator.num_processes} processes hold different training "
                "data or seeds. Every process must fit on the same rows with the same "
                "int random_state (random_state=None draws a different held-out split "
                "and order in each process).")

    # -- training ---------------------------------------------------------------

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        if not self.initialized_:
            self.initialize()
        elif not self._wrapped_with_accelerator:
            self._initialize_accelerator()  # continued training (warm start)
        try:
            if self._multi_process:
                self._check_same_data(X)
            return super().partial_fit(X, y, classes, **fit_params)
        except BaseException:
            # A diverging loss (raised on every process alike) or an error:
            # leave plain modules behind, as a finished fit does.
            self._unwrap_accelerator()
            raise

    def on_train_end(self, net, X=None, y=None, **kwargs):
        if self._multi_process and self._wrapped_with_accelerator:
            # Parameters agree across processes; BatchNorm statistics were
            # last updated with each process's own batch.
            for module in (self.module_, self.discriminator_):
                self._broadcast_from_main(module, parameters=False)
        return super().on_train_end(net, X=X, y=y, **kwargs)

    def _unwrap_accelerator(self):
        if not self._wrapped_with_accelerator:
            return
        prepared = [getattr(self, name + "_")
                    for name in self._modules + self._criteria + self._optimizers]
        prepared += [inner_module(obj) for obj in prepared]
        for name in self._optimizers:
            optimizer = getattr(self, name + "_")
            setattr(self, name + "_", getattr(optimizer, "optimizer", optimizer))
        super()._unwrap_accelerator()
        # The accelerator lists what it prepared (for its save_state); drop
        # this net's objects so that it does not keep every fitted model alive.
        for attr in ("_models", "_optimizers"):
            kept = getattr(self.accelerator, attr, None)
            if isinstance(kept, list):
                kept[:] = [obj for obj in kept if not any(obj is p for p in prepared)]

    # -- pickling ------------------------------------------------------------

    def __reduce_ex__(self, protocol):
        if self._wrapped_with_accelerator:
            raise TypeError("An accelerated net cannot be pickled while it is "
                            "prepared for training (during fit).")
        state = self.__getstate__()
        for key in _ACCELERATOR_ONLY:
            state.pop(key, None)
        state["_params_to_validate"] = set(state.get("_params_to_validate", ())) \
            - set(_ACCELERATOR_ONLY)
        return _new_net, (self._plain_class,), state


class AcceleratedSkipGANomalyNet(AcceleratedGANomalyNet, SkipGANomalyNet):
    """:class:`~skganomaly.net.SkipGANomalyNet` trained through an
    ``accelerate.Accelerator``."""

    _plain_class = SkipGANomalyNet


def _new_net(cls):
    """Unpickling: an empty net of class ``cls`` (skorch's ``__setstate__``
    fills it)."""
    return cls.__new__(cls)


def accelerated_net_class(net_class):
    """The accelerated counterpart of a training-core class."""
    return {GANomalyNet: AcceleratedGANomalyNet,
            SkipGANomalyNet: AcceleratedSkipGANomalyNet}[net_class]
