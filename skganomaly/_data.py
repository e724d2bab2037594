"""The data path: from a user's array to scaled batches for the networks.

Pure numpy / torch helpers with no estimator logic, in the order data flows:

- what each row *is* (a feature vector or an image) and the shape of one
  sample (:func:`flatten_samples`, :func:`resolve_sample_shape`); the
  estimator validates with scikit-learn's ``validate_data`` on a 2-D view;
- the input scaling that brings raw inputs (pixels 0-255, features around
  100, ...) into the range the networks train well in (:class:`InputScaler`);
- row sources, inputs read on demand instead of loaded whole: a
  :class:`numpy.memmap` or a map-style :class:`torch.utils.data.Dataset`
  (items: a sample, or a ``(sample, target)`` pair whose target is ignored)
  becomes a read-only, lazily validated 2-D view with ``shape``, ``len`` and
  indexing (:func:`as_row_source`), used exactly like a validated array;
  :class:`ScaledRows` puts the scaling on top, for training;
- the training batches: :class:`TensorBatches`, skorch's iterator over
  in-memory tensors and row sources, and :class:`TrainValid`, the training
  and held-out rows of one fit.
"""

from numbers import Integral

import numpy as np
import torch
from sklearn.utils import check_array
from skorch.dataset import Dataset

__all__ = ["DatasetRows", "InputScaler", "MemmapRows", "ScaledRows", "TensorBatches",
           "TrainValid", "as_row_source", "chunk_rows", "flatten_samples",
           "resolve_sample_shape"]

#: Scaled inputs are clipped to this magnitude. A value this many standard
#: deviations (or image ranges) away from the training data is an outlier by
#: any measure; clipping keeps float32 activations, hence scores, finite.
CLIP = 1e4


def flatten_samples(X):
    """Return ``(X_2d, nd_shape)``: a 2-D view of 3-D / 4-D image stacks.

    ``nd_shape`` is the per-sample shape of a 3-D or 4-D input and ``None``
    for everything else (which scikit-learn's validation then checks). Inputs
    of other dimensionality are rejected with a message that says which
    shapes are understood.
    """
    if isinstance(X, (list, tuple)):
        # Nested lists: only convert to find the dimensionality; dtype
        # problems are left to check_array, which words them well.
        try:
            arr = np.asarray(X)
        except ValueError as exc:  # ragged nested lists
            raise ValueError(f"Could not convert X to a regular array: {exc}") from exc
        if arr.ndim in (3, 4):
            X = arr
    ndim = getattr(X, "ndim", None)
    if ndim is None or not hasattr(X, "shape") or hasattr(X, "tocsr"):
        return X, None
    if ndim in (3, 4):
        if isinstance(X, torch.Tensor):
            X = X.detach().cpu().numpy()
        X = np.asarray(X)
        # Explicit width: reshape(0, -1) fails on an empty stack, which
        # validation then reports clearly.
        n_values = int(np.prod(X.shape[1:]))
        return X.reshape(X.shape[0], n_values), tuple(int(s) for s in X.shape[1:])
    if ndim > 4:
        raise ValueError(
            f"X has {ndim} dimensions; expected a 2-D array (n_samples, "
            "n_features), a 3-D stack of grayscale images (n_samples, H, W) or a "
            "4-D stack of images (n_samples, C, H, W). Reshape X to one of these."
        )
    return X, None


def _as_chw(shape, what):
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or not all(
        isinstance(s, (Integral, np.integer)) and s > 0 for s in shape
    ):
        raise ValueError(
            f"{what} must be (H, W) or (C, H, W) with positive integers, got {shape!r}."
        )
    return tuple(int(s) for s in shape)


def resolve_sample_shape(image_shape, nd_shape, n_features):
    """Shape of one sample: ``(n_features,)`` for tabular rows or ``(C, H, W)``.

    Parameters
    ----------
    image_shape : None or tuple of int
        The estimator's ``image_shape`` parameter.
    nd_shape : None or tuple of int
        Per-sample shape of a 3-D / 4-D input, from :func:`flatten_samples`.
    n_features : int
        Number of columns of the 2-D view of the data.
    """
    if nd_shape is not None:
        shape = _as_chw(nd_shape, "The shape of each sample")
        if image_shape is not None and _as_chw(image_shape, "image_shape") != shape:
            raise ValueError(
                f"image_shape={tuple(image_shape)!r} does not match the shape of "
                f"the images in X, {nd_shape!r}. Pass image_shape=None (the shape "
                "is taken from X) or the matching shape."
            )
        return shape
    if image_shape is None:
        return (int(n_features),)
    shape = _as_chw(tuple(image_shape), "image_shape")
    if int(np.prod(shape)) != n_features:
        raise ValueError(
            f"image_shape={tuple(image_shape)!r} holds {int(np.prod(shape))} values "
            f"per image, but X has {n_features} features per row. Each row of a "
            "2-D X must be one flattened image of that shape."
        )
    return shape


class InputScaler:
    """Affine scaling learned on the training data.

    Images are scaled per channel from the training range onto ``[-1, 1]``
    (the range of the decoder's ``tanh`` output, as in the paper); tabular
    features are standardised per feature (the MLP decoder's output is
    linear). Constant channels or features get a unit scale, so they map to
    zero instead of dividing by zero.
    """

    def fit(self, X, sample_shape):
        """Learn the scaling from an array of training rows."""
        X = np.asarray(X)
        return self.fit_chunks(lambda: iter([X]), sample_shape)

    def fit_chunks(self, chunks, sample_shape):
        """Learn the scaling from blocks of training rows.

        ``chunks`` is a callable returning a fresh iterator over 2-D blocks
        of rows (it is called once per pass; tabular data takes three).
        The statistics are exact, and one block gives bit for bit the
        numbers of :meth:`fit` on the whole array.
        """
        self.sample_shape = tuple(sample_shape)
        if len(self.sample_shape) == 3:
            n_channels = self.sample_shape[0]
            low = np.full(n_channels, np.inf)
            high = np.full(n_channels, -np.inf)
            for block in _nonempty(chunks()):
                channels = block.reshape(block.shape[0], n_channels, -1)
                low = np.minimum(low, channels.min(axis=(0, 2)))
                high = np.maximum(high, channels.max(axis=(0, 2)))
            # Halve first: high + low overflows near the float64 maximum
            # (halving is exact, so ordinary data gives the same numbers).
            center, half_range = high / 2 + low / 2, high / 2 - low / 2
            shape = (n_channels, 1)
            self.shift_ = center.reshape(shape)
            self.scale_ = _nonzero(half_range, center).reshape(shape)
            return self
        # Divide by a power of two near each feature's peak magnitude so
        # that neither the sum nor the squares overflow (values up to the
        # float64 maximum). Scaling by 2**k is exact: ordinary data gives
        # bit-for-bit the same statistics.
        peak, n = 0.0, 0
        for block in _nonempty(chunks()):
            peak = np.maximum(peak, np.abs(block).max(axis=0).astype(np.float64))
            n += block.shape[0]
        unit = np.ldexp(1.0, np.frexp(peak)[1] - 1)
        total = sum(np.add.reduce(block.astype(np.float64, copy=False) / unit, axis=0)
                    for block in _nonempty(chunks()))
        mean_u = total / n
        # Centre before squaring.
        squares = sum(
            np.add.reduce((block.astype(np.float64, copy=False) / unit - mean_u) ** 2,
                          axis=0)
            for block in _nonempty(chunks()))
        self.shift_ = mean_u * unit
        self.scale_ = _nonzero(np.sqrt(squares / n) * unit, self.shift_)
        return self

    def transform(self, X):
        """Scaled float32 array of shape ``(n_samples, *sample_shape)``."""
        X = np.asarray(X, dtype=np.float64)
        if len(self.sample_shape) == 3:
            X = X.reshape(X.shape[0], self.sample_shape[0], -1)
        # Overflow to +-inf is harmless here: clipping brings it back.
        with np.errstate(over="ignore"):
            X = (X - self.shift_) / self.scale_
        np.clip(X, -CLIP, CLIP, out=X)
        return X.reshape(X.shape[0], *self.sample_shape).astype(np.float32)

    def inverse_transform(self, X):
        """Map scaled arrays back to the units of the input (float64)."""
        X = np.asarray(X, dtype=np.float64)
        n = X.shape[0]
        if len(self.sample_shape) == 3:
            X = X.reshape(n, self.sample_shape[0], -1)
        return (X * self.scale_ + self.shift_).reshape(n, *self.sample_shape)


def _nonempty(blocks):
    return (np.asarray(block) for block in blocks if len(block))


def _nonzero(scale, reference):
    """Replace scales that are zero, or negligible next to the values they
    scale, by one (as scikit-learn's StandardScaler does)."""
    scale = np.asarray(scale, dtype=np.float64).copy()
    eps = 10 * np.finfo(np.float64).eps
    tiny = (scale <= eps * np.abs(reference)) | (scale == 0) | ~np.isfinite(scale)
    scale[tiny] = 1.0
    return scale


# -- row sources: inputs read on demand ----------------------------------------

#: Budget of one chunk of rows read at a time for statistics or conversion
#: (in float64 values): large enough for throughput, small next to memory.
CHUNK_BYTES = 8 * 2**20


def chunk_rows(n_features):
    """Rows per chunk: ``CHUNK_BYTES`` of float64 values, at least one row."""
    return max(1, CHUNK_BYTES // (8 * max(1, int(n_features))))


def as_row_source(X):
    """A row source for inputs read on demand, ``None`` for all others."""
    if isinstance(X, np.memmap):
        return MemmapRows(X)
    if isinstance(X, torch.utils.data.IterableDataset):
        raise TypeError(
            "X is an IterableDataset, which can only be read in one order: "
            "GANomalyDetector needs random access (a shuffled order per epoch "
            "and held-out rows). Pass a map-style torch Dataset (with __len__ "
            "and __getitem__) or a numpy memmap instead."
        )
    if isinstance(X, torch.utils.data.Dataset):
        return DatasetRows(X)
    return None


def _check_rows(rows):
    # The same checks and messages as an in-memory input gets.
    return check_array(rows, dtype=[np.float64, np.float32], ensure_min_samples=0,
                       input_name="X")


class MemmapRows:
    """Row source over a memory-mapped array of 2 to 4 dimensions.

    Parameters
    ----------
    data : numpy.memmap of shape (n_samples, n_features), (n_samples, H, W)
        or (n_samples, C, H, W)
    """

    def __init__(self, data):
        if data.ndim not in (2, 3, 4):
            raise ValueError(
                f"X is a memmap with {data.ndim} dimension(s); expected 2 "
                "(n_samples, n_features), 3 (n_samples, H, W) or 4 "
                "(n_samples, C, H, W). Reshape the memmap to one of these."
            )
        if data.dtype.kind not in "biuf":
            raise ValueError(
                f"X is a memmap of dtype {data.dtype}; expected a numeric dtype "
                "(bool, integer or float)."
            )
        self.data = data
        self.nd_shape = tuple(int(s) for s in data.shape[1:]) if data.ndim > 2 else None
        self.shape = (int(data.shape[0]), int(np.prod(data.shape[1:])))
        self.dtype = np.dtype(np.float32 if data.dtype == np.float32 else np.float64)

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, index):
        rows = np.asarray(self.data[index])
        return _check_rows(rows.reshape(rows.shape[0], self.shape[1]))


class DatasetRows:
    """Row source over a map-style torch ``Dataset``.

    Items are samples (tensors, arrays or numbers of one shape: 1-D feature
    vectors, ``(H, W)`` or ``(C, H, W)`` images) or ``(sample, target, ...)``
    tuples whose first element is the sample.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
    """

    def __init__(self, dataset):
        try:
            n = len(dataset)
        except TypeError:
            raise TypeError(
                f"X is a torch Dataset ({type(dataset).__name__}) without "
                "__len__; GANomalyDetector needs the number of samples. "
                "Implement __len__, or pass a numpy array or memmap."
            ) from None
        self.dataset = dataset
        first = self._sample(0) if n else np.empty((0,))
        if first.ndim not in (1, 2, 3):
            raise ValueError(
                f"Items of the Dataset are samples of shape {first.shape}; expected "
                "1-D feature vectors, (H, W) or (C, H, W) images."
            )
        self.item_shape = first.shape
        self.nd_shape = first.shape if first.ndim > 1 else None
        self.shape = (int(n), int(np.prod(first.shape)))
        self.dtype = np.dtype(np.float32 if first.dtype == np.float32 else np.float64)

    def __len__(self):
        return self.shape[0]

    def _sample(self, i):
        item = self.dataset[int(i)]
        if isinstance(item, (tuple, list)) and item and not np.isscalar(item[0]):
            item = item[0]
        if isinstance(item, torch.Tensor):
            item = item.detach().cpu().numpy()
        return np.asarray(item)

    def __getitem__(self, index):
        if isinstance(index, slice):
            index = range(len(self))[index]
        # Copy each item into one preallocated batch as it is read: no list
        # of per-item arrays stays alive to fragment the heap.
        rows = None
        for j, i in enumerate(index):
            sample = self._sample(i)
            if sample.shape != self.item_shape:
                raise ValueError(
                    f"Item {int(i)} of the Dataset has shape {sample.shape}, but "
                    f"item 0 has shape {self.item_shape}: all samples must have "
                    "one shape."
                )
            if rows is None:
                rows = np.empty((len(index), *self.item_shape), dtype=self.dtype)
            rows[j] = sample
        if rows is None:
            rows = np.empty((0, *self.item_shape), dtype=self.dtype)
        return _check_rows(rows.reshape(len(rows), self.shape[1]))


class ScaledRows:
    """Selected rows of a validated 2-D array or row source, scaled on demand.

    Indexing (by slice, or integer array / tensor of positions within the
    selection) returns a float32 tensor of scaled samples: the training
    iterators read batches through it without the whole scaled training set
    ever being in memory.

    Parameters
    ----------
    rows : ndarray or row source of shape (n_samples, n_features)
    index : ndarray of int
        The selected rows (e.g. the training rows).
    scaler : fitted :class:`InputScaler`
    """

    def __init__(self, rows, index, scaler):
        self.rows = rows
        self.index = np.asarray(index)
        self.scaler = scaler

    def __len__(self):
        return len(self.index)

    def __getitem__(self, positions):
        if isinstance(positions, torch.Tensor):
            positions = positions.numpy()
        if isinstance(positions, Integral):
            positions = slice(positions, positions + 1)
        return torch.from_numpy(self.scaler.transform(self.rows[self.index[positions]]))

    def materialize(self):
        """All selected rows as one scaled float32 tensor, converted chunk by
        chunk (no float64 copy of the whole selection)."""
        shape = self.scaler.sample_shape
        out = torch.empty((len(self), *shape), dtype=torch.float32)
        step = chunk_rows(int(np.prod(shape)))
        for start in range(0, len(self), step):
            out[start:start + step] = self[start:start + step]
        return out


# -- training batches ------------------------------------------------------------


class TrainValid:
    """Training data plus optional held-out validation data for one fit.

    Passing both through ``fit(X)`` keeps the held-out rows out of the net's
    parameters (``train_split``), so they are not pickled with the model.
    """

    def __init__(self, train, valid=None):
        self.train = train
        self.valid = valid

    def __len__(self):
        return len(self.train)


class TensorBatches:
    """Iterate over mini-batches of an in-memory tensor by slicing.

    skorch's default ``DataLoader`` indexes and collates sample by sample,
    which costs more than a small network's step on in-memory arrays. This
    iterator gathers each batch with one indexing operation (in a shuffled
    order drawn per epoch) and falls back to a ``DataLoader`` for datasets
    it cannot slice. Data read on demand
    (:class:`ScaledRows`) is read batch by batch in the
    same shuffled order, so it trains on the same batches as the same data
    in memory.

    Parameters
    ----------
    dataset : skorch Dataset or torch Dataset
    batch_size : int
    shuffle : bool
    seed : int or None
        Seed of the shuffling order (set by the estimator).
    drop_singleton : bool
        Drop a trailing batch of one sample: BatchNorm cannot train on it.

    Notes
    -----
    :meth:`shard` makes it yield one process's share of every epoch for
    data-parallel training (see :mod:`skganomaly._accelerate`).
    """

    def __init__(self, dataset, batch_size=64, shuffle=False, seed=None,
                 drop_singleton=False):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.generator = torch.Generator()
        if seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(int(seed))
        self.drop_singleton = drop_singleton
        self.tensor = _sliceable_tensor(dataset)
        self.num_shards, self.shard_index = 1, 0

    def shard(self, index, count):
        """Yield only shard ``index`` of ``count`` (one per process) from now on.

        Every process must draw the same order (same ``seed``). Each epoch's
        order is cut into steps of ``count`` consecutive batches of
        ``batch_size`` rows and shard ``index`` takes the ``index``-th batch
        of every step, so the shards partition the epoch. The order is
        extended by wrapping around to a whole number of steps: every shard
        gets the same number of full batches (no process waits for another
        at the end of an epoch, and no batch has a single sample); up to
        ``count * batch_size - 1`` rows of the epoch's start are seen twice.
        """
        if count > 1 and self.shuffle and self.seed is None:
            raise ValueError("Sharding a shuffled TensorBatches needs a seed: every "
                             "process must draw the same order.")
        self.num_shards, self.shard_index = int(count), int(index)
        return self

    def __len__(self):
        n = len(self.dataset)
        if self.num_shards > 1:
            return -(-n // (self.batch_size * self.num_shards))
        n_batches = -(-n // self.batch_size)
        if self.drop_singleton and n > 1 and n % self.batch_size == 1:
            n_batches -= 1
        return n_batches

    def _order(self):
        n = len(self.dataset)
        if self.shuffle:
            return torch.randperm(n, generator=self.generator)
        return torch.arange(n)

    def __iter__(self):
        if self.num_shards > 1:
            yield from self._shard_batches()
            return
        if self.tensor is None:
            loader = torch.utils.data.DataLoader(
                self.dataset, batch_size=self.batch_size, shuffle=self.shuffle,
                generator=self.generator,
            )
            yield from loader
            return
        X, order = self.tensor, None
        if self.shuffle:
            # Gather batch by batch: a gather of the whole set per epoch
            # would hold a second copy of the training data.
            order = self._on_device(self._order())
        n = len(X)
        for start in range(0, n, self.batch_size):
            stop = start + self.batch_size
            Xb = X[start:stop] if order is None else X[order[start:stop]]
            if self.drop_singleton and len(Xb) == 1 and n > 1:
                return
            yield Xb, None

    def _shard_batches(self):
        order = self._order()
        steps = len(self)
        total = steps * self.batch_size * self.num_shards
        order = order.repeat(-(-total // len(order)))[:total]
        rows = order.view(steps, self.num_shards, self.batch_size)[:, self.shard_index]
        if self.tensor is None:
            yield from torch.utils.data.DataLoader(self.dataset,
                                                   batch_sampler=rows.tolist())
            return
        for batch_rows in self._on_device(rows):
            yield self.tensor[batch_rows], None

    def _on_device(self, index):
        # Index a GPU-resident training tensor with a GPU index.
        if isinstance(self.tensor, torch.Tensor):
            return index.to(self.tensor.device)
        return index


def _sliceable_tensor(dataset):
    """The tensor (or :class:`ScaledRows`, read on
    demand) behind a skorch ``Dataset`` without targets, else ``None``."""
    if isinstance(dataset, Dataset) and dataset.y is None \
            and isinstance(dataset.X, (torch.Tensor, ScaledRows)):
        return dataset.X
    return None
