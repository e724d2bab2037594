"""Skip-GANomaly: the skip-connected generator, its losses and scores, and the
SkipGANomalyDetector."""

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from skganomaly import GANomalyDetector, SkipGANomalyDetector
from skganomaly._data import TrainValid
from skganomaly.net import SkipGANomalyNet
from skganomaly.networks import Discriminator, SkipGenerator, weights_init


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 20), (3, 5, 7), (2, 32, 32),
                                   (7,), (1,)])
def test_skip_generator_keeps_the_shape_and_returns_z_twice(shape):
    gen = SkipGenerator(shape, latent_dim=5, n_filters=4)
    x = torch.randn(3, *shape)
    x_hat, z, z_hat = gen(x)
    assert x_hat.shape == x.shape and z.shape == (3, 5)
    assert z_hat is z
    torch.testing.assert_close(gen.encode(x), z)
    if len(shape) == 3:
        assert x_hat.abs().max() <= 1  # tanh output, like the GANomaly decoder


@pytest.mark.parametrize("shape", [(1, 8, 8), (6,)])
def test_skip_connections_carry_the_input_past_the_bottleneck(shape):
    torch.manual_seed(0)
    gen = SkipGenerator(shape, latent_dim=3, n_filters=4).eval()
    with torch.no_grad():
        gen.bottleneck.weight.zero_()  # z == 0 for every input
        if gen.bottleneck.bias is not None:
            gen.bottleneck.bias.zero_()
        x1, x2 = torch.randn(2, 1, *shape)
        out1, z1, _ = gen(x1)
        out2, z2, _ = gen(x2)
    assert torch.all(z1 == 0) and torch.all(z2 == 0)
    assert (out1 - out2).abs().max() > 1e-4  # the skips still see the input


def _skip_net(shape=(6,), **kw):
    params = dict(
        module=SkipGenerator, module__sample_shape=shape, module__latent_dim=3,
        module__n_filters=4, discriminator=Discriminator,
        discriminator__sample_shape=shape, discriminator__n_filters=4,
        max_epochs=2, batch_size=16, train_split=None, verbose=0)
    params.update(kw)
    return SkipGANomalyNet(**params)


def test_skip_losses_are_the_papers():
    torch.manual_seed(0)
    net = _skip_net().initialize()
    x = torch.randn(10, 6)
    x_hat = torch.randn(10, 6)
    real_f, fake_f = torch.randn(10, 8), torch.randn(10, 8)
    logits = torch.randn(10)
    adv, con, enc = net.generator_losses(x, x_hat, None, None, real_f, fake_f,
                                         fake_logits=logits)
    # adv: BCE of the fake logits against "real"; con: L1; enc: L2 of features.
    torch.testing.assert_close(adv, torch.nn.functional.softplus(-logits).mean())
    torch.testing.assert_close(con, (x - x_hat).abs().mean())
    torch.testing.assert_close(enc, ((real_f - fake_f) ** 2).mean())


def test_skip_latent_error_is_the_discriminator_feature_distance():
    torch.manual_seed(0)
    X = torch.randn(40, 6)
    net = _skip_net().fit(TrainValid(X))
    errors = net.errors([X[:15], X[15:]])
    net.module_.eval()
    net.discriminator_.eval()
    with torch.no_grad():
        x_hat, _, _ = net.module_(X)
        _, f_real = net.discriminator_(X)
        _, f_fake = net.discriminator_(x_hat)
    lat = ((f_real.double() - f_fake.double()) ** 2).mean(dim=1).numpy()
    rec = (X.double() - x_hat.double()).abs().mean(dim=1).numpy()
    np.testing.assert_allclose(errors[:, 0], lat, rtol=1e-5)
    np.testing.assert_allclose(errors[:, 1], rec, rtol=1e-5)
    assert "train_loss_adv" in net.history[-1] and np.isfinite(net.history[-1, "train_loss"])


def test_detector_with_skip_uses_the_skip_networks_and_the_papers_score():
    rng = np.random.RandomState(0)
    X = rng.uniform(0, 16, size=(60, 8, 8))
    det = SkipGANomalyDetector(latent_dim=3, n_filters=4, max_epochs=1,
                               random_state=0).fit(X)
    assert isinstance(det.net_, SkipGANomalyNet)
    assert isinstance(det.net_.module_, SkipGenerator)
    # 'auto' -> Skip-GANomaly's mix: lambda = 0.9 on the reconstruction error.
    assert det.score_type_ == "combined"
    np.testing.assert_allclose(det.score_weights_, [0.1, 0.9])
    errors = det._errors(X.reshape(60, -1))
    standardised = (errors - det.score_center_) / det.score_scale_
    np.testing.assert_allclose(-det.score_samples(X),
                               0.1 * standardised[:, 0] + 0.9 * standardised[:, 1],
                               rtol=1e-12)


def test_skip_detector_detects_an_unseen_class_and_round_trips(tmp_path):
    rng = np.random.RandomState(0)
    ramp = np.linspace(0, 1, 8)
    normal = rng.uniform(0.3, 1, size=(240, 1, 1)) * ramp * np.ones((240, 8, 8))
    vertical = rng.uniform(0.3, 1, size=(40, 1, 1)) * ramp[:, None] * np.ones((40, 8, 8))
    X = normal + rng.normal(scale=0.03, size=normal.shape)
    A = vertical + rng.normal(scale=0.03, size=vertical.shape)
    det = SkipGANomalyDetector(latent_dim=4, n_filters=8, max_epochs=15,
                               batch_size=32, random_state=0).fit(X[:200])
    test = np.concatenate([X[200:], A])
    scores = det.score_samples(test)
    assert roc_auc_score(np.r_[np.zeros(40), np.ones(40)], -scores) > 0.9
    path = det.save(tmp_path / "skip.skgan")
    loaded = SkipGANomalyDetector.load(path)
    assert isinstance(loaded.net_, SkipGANomalyNet) and loaded.score_type_ == "combined"
    with pytest.raises(ValueError, match="holds a 'SkipGANomalyDetector', not a "
                                         "GANomalyDetector"):
        GANomalyDetector.load(path)
    np.testing.assert_array_equal(loaded.score_samples(test), scores)
    np.testing.assert_array_equal(loaded.anomaly_map(A[:3]), det.anomaly_map(A[:3]))


def test_skip_on_tabular_rows_uses_the_skip_connected_mlp():
    X = np.random.RandomState(0).normal(size=(50, 4))
    det = SkipGANomalyDetector(latent_dim=2, n_filters=4, max_epochs=2,
                               random_state=0).fit(X)
    assert isinstance(det.net_.module_.ups[-1], torch.nn.Linear)
    assert det.reconstruct(X).shape == X.shape
    assert np.all(np.isfinite(det.score_samples(X)))


def test_skip_weights_are_reproducible():
    X = np.random.RandomState(0).normal(size=(40, 3))
    make = lambda: SkipGANomalyDetector(latent_dim=2, n_filters=4,  # noqa: E731
                                        max_epochs=2, random_state=3).fit(X)
    np.testing.assert_array_equal(make().score_samples(X), make().score_samples(X))
    # The DCGAN initialisation reaches every layer of the skip network.
    torch.manual_seed(0)
    gen = SkipGenerator((1, 16, 16), 2, 8).apply(weights_init)
    convs = [m for m in gen.modules()
             if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    assert len(convs) == 2 * 2 + 2  # 16 -> 8 -> 4 and back, bottleneck both ways
    for conv in convs:
        assert abs(conv.weight.std().item() - 0.02) < 0.006
