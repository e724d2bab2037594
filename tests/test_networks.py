import pytest
import torch

from skganomaly.networks import (
    PAD_VALUE,
    Discriminator,
    Generator,
    padded_image_size,
    resize_images,
    weights_init,
    working_image_size,
)


@pytest.mark.parametrize(
    "height, width, expected",
    [(8, 8, 8), (4, 4, 8), (28, 28, 32), (28, 20, 32), (32, 32, 32), (33, 5, 64),
     (64, 64, 64)],
)
def test_padded_image_size_is_smallest_power_of_two_canvas(height, width, expected):
    assert padded_image_size(height, width) == expected


@pytest.mark.parametrize(
    "height, width, min_size, expected",
    [(8, 8, 16, (16, 16)), (8, 8, 32, (32, 32)), (5, 7, 16, (11, 16)),
     (7, 5, 16, (16, 11)), (1, 3, 16, (5, 16)), (16, 9, 16, (16, 9)),
     (28, 28, 16, (28, 28)), (8, 8, None, (8, 8)), (8, 8, 4, (8, 8))],
)
def test_working_image_size_upsamples_only_small_images(height, width, min_size,
                                                        expected):
    assert working_image_size(height, width, min_size) == expected


@pytest.mark.parametrize(
    "shape", [(1, 32, 32), (1, 28, 28), (1, 28, 20), (3, 8, 8), (2, 5, 3),
              (1, 64, 64), (4, 9, 17), (7,), (1,)]
)
def test_generator_and_discriminator_keep_the_input_shape(shape):
    gen = Generator(shape, latent_dim=6, n_filters=4).apply(weights_init)
    disc = Discriminator(shape, n_filters=4).apply(weights_init)
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



def test_resize_images_enlarges_bilinearly_and_shrinks_by_area_means():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 5, 6)
    up = resize_images(x, (10, 12))
    assert up.shape == (2, 3, 10, 12)
    # Bilinear: values stay within each image's range; the mean is kept
    # up to the border effects of half-pixel centres.
    assert up.min() >= x.min() and up.max() <= x.max()
    nearest = torch.nn.functional.interpolate(x, size=(10, 12), mode="nearest")
    assert torch.allclose(resize_images(nearest, (5, 6)), x, atol=1e-6)
    assert resize_images(x, (5, 6)) is x
    flat = torch.full((1, 1, 5, 7), 0.25)
    assert torch.allclose(resize_images(resize_images(flat, (11, 16)), (5, 7)), flat)
