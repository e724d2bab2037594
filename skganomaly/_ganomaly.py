"""GANomalyDetector: GANomaly (Akcay et al., ACCV 2018) as a scikit-learn
outlier detector."""

from . import _parameter_docs as docs
from ._base import BaseGANomaly
from .net import GANomalyNet
from .networks import Generator

__all__ = ["GANomalyDetector"]

#: ``min_image_size="auto"``: the paper's DCGAN encoder is one convolution
#: without BatchNorm on an 8x8 image; at 16x16 it has its structure in small.
AUTO_MIN_IMAGE_SIZE = 16


class GANomalyDetector(BaseGANomaly):
    __doc__ = """GANomaly outlier detector (Akcay et al., ACCV 2018).

    Trained on normal data only, GANomaly learns an encoder -> decoder ->
    encoder generator ``z = E1(x)``, ``x_hat = Dec(z)``, ``z_hat = E2(x_hat)``
    beside a discriminator. Inputs unlike the training data are reconstructed
    poorly, so their codes ``z`` and ``z_hat`` disagree: the paper's anomaly
    score is the mean squared distance between them.

    Images (3-D or 4-D arrays, or 2-D arrays with ``image_shape``) use the
    paper's DCGAN convolutional networks; other 2-D arrays use multi-layer
    perceptrons. Training runs in PyTorch through skorch on CPU or GPU.

    Read more in the :ref:`User Guide <user_guide>`.

    Parameters
    ----------
{parameters}

    Attributes
    ----------
{attributes}

    See Also
    --------
    SkipGANomalyDetector : Skip-GANomaly, a U-Net generator without a second
        encoder.
    sklearn.ensemble.IsolationForest : Isolation-based outlier detector.
    sklearn.neighbors.LocalOutlierFactor : Density-based outlier detector.
    sklearn.svm.OneClassSVM : Support-vector outlier detector.

    Notes
    -----
{notes}

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
    """.format(
        parameters=docs.parameters(
            min_image_size_auto=(
                "``'auto'``: 16. On an 8x8 image the paper's DCGAN encoder is "
                "one convolution without BatchNorm; at 16x16 it has the "
                "paper's structure in small, which did better on sklearn's "
                "8x8 digits at a multiple of the time (User Guide, \"Images "
                "and tabular data\"; Benchmarks page)."),
            loss_weights=(
                "Weights ``(w_adv, w_con, w_enc)`` of the generator's adversarial "
                "(feature matching), contextual (L1 reconstruction) and encoder "
                "(L2 between ``z`` and ``z_hat``) losses. The paper's are "
                "``(1, 50, 1)``."),
            latent_score=("mean squared distance of the latent codes ``z`` and "
                          "``z_hat`` (GANomaly's score);"),
            score_type_auto=(
                "``'latent_lof'`` for images and ``'latent'`` (the paper's "
                "score) for tabular rows: on the benchmarks' image suites "
                "``'latent_lof'`` was much better than the paper's score, on "
                "the tabular ODDS sets slightly worse (Benchmarks page)."),
        ),
        attributes=docs.ATTRIBUTES.format(net_class="skganomaly.net.GANomalyNet",
                                          generator_class="Generator"),
        notes=docs.NOTES,
    )

    _net_class = GANomalyNet
    _generator_class = Generator

    def _auto_min_image_size(self):
        return AUTO_MIN_IMAGE_SIZE

    def _auto_score_type(self, sample_shape):
        # The choice per input kind follows the benchmarks (see score_type).
        return "latent_lof" if len(sample_shape) == 3 else "latent"
