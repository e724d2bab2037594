"""SkipGANomalyDetector: Skip-GANomaly (Akcay et al., IJCNN 2019) as a
scikit-learn outlier detector."""

from . import _parameter_docs as docs
from ._base import BaseGANomaly
from .net import SkipGANomalyNet
from .networks import SkipGenerator

__all__ = ["SkipGANomalyDetector"]


class SkipGANomalyDetector(BaseGANomaly):
    __doc__ = """Skip-GANomaly outlier detector (Akcay et al., IJCNN 2019).

    Skip-GANomaly's generator is an encoder-decoder with skip connections (a
    U-Net for images; for tabular rows an MLP whose decoder layers also
    receive the encoder layers of the same width), trained beside a
    discriminator with a classic adversarial loss, an L1 reconstruction
    loss and a latent loss on the discriminator's features. It has no
    second encoder: its latent error compares the discriminator's features
    of ``x`` and ``x_hat``. Its anomaly score mixes that latent error with
    the reconstruction error (``score_type='combined'``).

    It shares everything else with :class:`GANomalyDetector`: input
    handling, the threshold, scoring, persistence and the training core.

    Read more in the :ref:`User Guide <user_guide>`.

    Parameters
    ----------
{parameters}

    Attributes
    ----------
{attributes}

    See Also
    --------
    GANomalyDetector : GANomaly, the encoder -> decoder -> encoder generator.
    sklearn.neighbors.LocalOutlierFactor : Density-based outlier detector.

    Notes
    -----
{notes}

    Skip-GANomaly's paper mixes the raw errors and rescales scores over the
    test set; standardising each error on held-out normal rows keeps
    ``score_lambda`` meaningful whatever the units and keeps a sample's
    score independent of the others.

    References
    ----------
    .. [1] S. Akcay, A. Atapour-Abarghouei, T. P. Breckon. "Skip-GANomaly:
       Skip connected and adversarially trained encoder-decoder anomaly
       detection." IJCNN 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from skganomaly import SkipGANomalyDetector
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 4))
    >>> det = SkipGANomalyDetector(latent_dim=4, n_filters=8, max_epochs=2,
    ...                            random_state=0).fit(X)
    >>> det.score_type_
    'combined'
    """.format(
        parameters=docs.parameters(
            min_image_size_auto=(
                "``'auto'``: no resizing. At 16x16 the U-Net passes more of "
                "an anomaly through its skip connections (User Guide, "
                "\"Images and tabular data\")."),
            loss_weights=(
                "Weights ``(w_adv, w_con, w_enc)`` of the generator's adversarial "
                "(binary cross-entropy of the discriminator's logits of "
                "``x_hat``), contextual (L1 reconstruction) and latent (L2 "
                "between the discriminator's features of ``x`` and ``x_hat``) "
                "losses. GANomaly's ``(1, 50, 1)``; the Skip-GANomaly paper "
                "used ``(1, 40, 1)``."),
            latent_score=("mean squared distance of the discriminator's features "
                          "of ``x`` and ``x_hat``;"),
            score_type_auto="``'combined'``, the paper's score.",
        ),
        attributes=docs.ATTRIBUTES.format(net_class="skganomaly.net.SkipGANomalyNet",
                                          generator_class="SkipGenerator"),
        notes=docs.NOTES,
    )

    _net_class = SkipGANomalyNet
    _generator_class = SkipGenerator

    def _auto_min_image_size(self):
        return None

    def _auto_score_type(self, sample_shape):
        return "combined"
