"""Row sources: inputs read on demand instead of loaded whole.

``fit`` and the scoring methods validate and convert an ordinary input at
once. Two kinds of input are instead read *on demand*, so that memory holds
one chunk or batch at a time whatever the size of the data:

- a :class:`numpy.memmap` (also what ``np.load(path, mmap_mode="r")``
  returns): rows are read from the file when a batch needs them;
- a map-style :class:`torch.utils.data.Dataset`: items (a sample, or a
  ``(sample, target)`` pair whose target is ignored) are fetched by index.

Both become a *row source*: a read-only, lazily validated 2-D view with
``shape``, ``len`` and indexing by slice or integer array, which the
estimator's batch loops use exactly like a validated in-memory array.
:class:`ScaledRows` then puts the input scaling on top, for training.
"""

from numbers import Integral

import numpy as np
import torch
from sklearn.utils import check_array

__all__ = ["DatasetRows", "MemmapRows", "ScaledRows", "as_row_source", "chunk_rows"]

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
    scaler : fitted :class:`~skganomaly._input.InputScaler`
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
