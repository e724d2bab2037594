import pytest
import torch

from skganomaly._networks import (
    PAD_VALUE,
    Discriminator,
    Generator,
    build_networks,
    padded_image_size,
    weights_init,
)


@pytest.mark.parametrize(
    "height, width, expected",
    [(8, 8, 8), (4, 4, 8), (28, 28, 32), (28, 20, 32), (32, 32, 32), (33, 5, 64),
     (64, 64, 64)],
)
def test_padded_image_size_is_smallest_power_of_two_canvas(height, width, expected):
    assert padded_image_size(height, width) == expected


@pytest.mark.parametrize(
    "shape", [(1, 32, 32), (1, 28, 28), (1, 28, 20), (3, 8, 8), (2, 5, 3),
              (1, 64, 64), (4, 9, 17), (7,), (1,)]
)
def test_generator_and_discriminator_keep_the_input_shape(shape):
    gen, disc = build_networks(shape, latent_dim=6, n_filters=4)
    x = torch.randn(3, *shape)
    x_hat, z, z_hat = gen(x)
    assert x_hat.shape == x.shape
    assert z.shape == z_hat.shape == (3, 6)
    logits, features = disc(x)
    assert logits.shape == (3,)
    assert features.shape[0] == 3 and features.ndim in (2, 4)


def test_padding_region_does_not_influence_the_codes():
    # E2 must see the reconstruction re-padded with PAD_VALUE, not whatever the
    # decoder put in the padding region.
    torch.manual_seed(0)
    gen = Generator((1, 5, 6), latent_dim=3, n_filters=4).eval()
    x = torch.randn(2, 1, 5, 6)
    _, z, z_hat = gen(x)
    canvas = gen.padcrop.pad(x)
    assert canvas.shape[-2:] == (8, 8)
    # Every value outside the crop box is the pad value.
    mask = torch.ones_like(canvas, dtype=torch.bool)
    top, bottom, left, right = gen.padcrop.box
    mask[..., top:bottom, left:right] = False
    assert torch.all(canvas[mask] == PAD_VALUE)
    assert torch.allclose(gen.encoder1(canvas), z)
    assert torch.equal(gen.padcrop.crop(canvas), x)


def test_weights_init_follows_dcgan():
    torch.manual_seed(0)
    disc = Discriminator((1, 32, 32), n_filters=64)
    disc.apply(weights_init)
    conv = disc.features[0].weight
    assert abs(conv.mean().item()) < 0.005
    assert conv.std().item() == pytest.approx(0.02, rel=0.1)
    bn = disc.features[3]
    assert isinstance(bn, torch.nn.BatchNorm2d)
    assert bn.weight.mean().item() == pytest.approx(1.0, abs=0.01)
    assert torch.all(bn.bias == 0)


def test_paper_architecture_for_32x32_images():
    gen = Generator((1, 32, 32), latent_dim=100, n_filters=64)
    convs = [m for m in gen.encoder1.modules() if isinstance(m, torch.nn.Conv2d)]
    # 32 -> 16 -> 8 -> 4 -> 1: channels 1 -> 64 -> 128 -> 256 -> 100.
    assert [c.out_channels for c in convs] == [64, 128, 256, 100]
    deconvs = [m for m in gen.decoder.modules()
               if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [c.out_channels for c in deconvs] == [256, 128, 64, 1]
    assert isinstance(gen.decoder.net[-1], torch.nn.Tanh)
