"""skganomaly: GANomaly and Skip-GANomaly as scikit-learn outlier detectors."""

from ._ganomaly import GANomalyDetector
from ._skip_ganomaly import SkipGANomalyDetector
from ._version import __version__

__all__ = ["GANomalyDetector", "SkipGANomalyDetector", "__version__"]
