"""scikit-learn's estimator checks on both detectors (tiny settings)."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skganomaly import GANomalyDetector, SkipGANomalyDetector


def _tiny():
    return GANomalyDetector(
        latent_dim=3, n_filters=4, max_epochs=2, batch_size=16, random_state=0
    )


def _tiny_skip():
    # Skip-GANomaly: the second generator and the discriminator. Not
    # score_type='combined': standardising by the small spread of the errors
    # magnifies float32 rounding (which depends on the batch size) to ~1e-6
    # relative, above check_methods_subset_invariance's rtol=1e-7 (tests in
    # test_score_types.py check it to 1e-5).
    return SkipGANomalyDetector(
        latent_dim=3, n_filters=4, max_epochs=2, batch_size=16, random_state=0,
        score_type="reconstruction",
    )


def _tiny_latent_lof():
    # The local outlier factor of the codes: fitted on the training rows'
    # codes after training.
    return GANomalyDetector(
        latent_dim=3, n_filters=4, max_epochs=2, batch_size=16, random_state=0,
        score_type="latent_lof",
    )


@parametrize_with_checks([_tiny(), _tiny_skip(), _tiny_latent_lof()])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
