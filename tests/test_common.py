"""scikit-learn's estimator checks on GANomalyDetector (tiny settings)."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skganomaly import GANomalyDetector


def _tiny():
    return GANomalyDetector(
        latent_dim=3, n_filters=4, max_epochs=2, batch_size=16, random_state=0
    )


@parametrize_with_checks([_tiny()])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
