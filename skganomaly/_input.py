"""Input handling: images vs tabular rows, sample shapes, and input scaling.

Pure numpy / torch helpers with no estimator logic. The estimator validates
with scikit-learn's ``validate_data`` on a 2-D view of the data; this module
decides what each row *is* (a feature vector or an image) and learns the
scaling that brings raw inputs (pixels 0-255, features around 100, ...) into
the range the networks train well in.
"""

from numbers import Integral

import numpy as np
import torch

__all__ = ["InputScaler", "flatten_samples", "resolve_sample_shape"]

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
