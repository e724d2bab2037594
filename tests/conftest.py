import numpy as np
import pytest
import torch

from skganomaly import GANomalyDetector, SkipGANomalyDetector

# Tiny networks: one thread is fastest (no OpenMP synchronisation), and it
# cannot oversubscribe the two cores of CI when other work runs beside it.
torch.set_num_threads(1)

#: The detector classes by the name tests parametrize over.
DETECTORS = {"ganomaly": GANomalyDetector, "skip": SkipGANomalyDetector}


@pytest.fixture
def tiny():
    """Factory of tiny, fast detectors (tests check behaviour, not quality);
    ``generator="skip"`` makes a SkipGANomalyDetector."""

    def make(generator="ganomaly", **params):
        defaults = dict(latent_dim=4, n_filters=4, max_epochs=2, batch_size=32,
                        random_state=0)
        defaults.update(params)
        return DETECTORS[generator](**defaults)

    return make


@pytest.fixture
def blobs():
    rng = np.random.RandomState(0)
    return rng.normal(size=(120, 5))
