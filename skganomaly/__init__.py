"""skganomaly: GANomaly as a scikit-learn outlier detector."""

from ._detector import GANomalyDetector

__version__ = "0.1.0.dev0"

__all__ = ["GANomalyDetector", "__version__"]
