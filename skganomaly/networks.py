"""Torch modules of GANomaly and Skip-GANomaly: generators and discriminator.

A fitted detector's ``net_.module_`` is a :class:`Generator` (or a
:class:`SkipGenerator`) and ``net_.discriminator_`` a :class:`Discriminator`.
Nothing in this module trains or validates anything; it only builds networks.

Two backbones are provided:

* the DCGAN convolutional networks of the paper, for images of shape
  ``(C, H, W)``. Images of any size are padded (centred) to the next power of
  two of at least 8 inside the modules, and outputs are cropped back, so
  callers never see the padded size. (Images smaller than the detector's
  ``min_image_size`` are upsampled before they reach the modules:
  :func:`working_image_size`, :func:`resize_images`.)
* multi-layer perceptrons for tabular rows of shape ``(n_features,)``.
"""

import math

import torch
from torch import nn

# The modules a fitted detector holds, and their initialisation; the
# helpers below serve the training core.
__all__ = ["Discriminator", "Generator", "SkipGenerator", "weights_init"]

#: Pixel value (after the input scaling to [-1, 1]) used to pad images.
PAD_VALUE = -1.0


def padded_image_size(height, width):
    """Side of the square, power-of-two canvas an image is padded to.

    The DCGAN pyramid halves the spatial size down to 4 and needs at least
    one strided layer, so the smallest canvas is 8.
    """
    side = max(int(height), int(width), 8)
    return 1 << math.ceil(math.log2(side))


def working_image_size(height, width, min_image_size=None):
    """``(height, width)`` of an image upsampled so that its longer side is
    at least ``min_image_size``, aspect ratio kept (unchanged when the image
    is large enough or ``min_image_size`` is None)."""
    height, width = int(height), int(width)
    longer = max(height, width)
    if min_image_size is None or longer >= min_image_size:
        return height, width
    scale = min_image_size / longer
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_images(x, size):
    """``(N, C, H, W)`` images resized to ``size``: bilinear when enlarging,
    averages over areas when shrinking (which inverts a nearest-neighbour
    enlargement exactly and keeps each image's mean)."""
    size = tuple(int(s) for s in size)
    if tuple(x.shape[-2:]) == size:
        return x
    if size[0] >= x.shape[-2] and size[1] >= x.shape[-1]:
        return nn.functional.interpolate(x, size=size, mode="bilinear",
                                         align_corners=False)
    return nn.functional.interpolate(x, size=size, mode="area")


class PadCrop(nn.Module):
    """Pad images centred onto a square canvas and crop them back."""

    def __init__(self, image_shape):
        super().__init__()
        _, height, width = image_shape
        self.isize = padded_image_size(height, width)
        top = (self.isize - height) // 2
        left = (self.isize - width) // 2
        # (left, right, top, bottom) as torch.nn.functional.pad expects.
        self.pads = (left, self.isize - width - left, top, self.isize - height - top)
        self.box = (top, top + height, left, left + width)

    def pad(self, x):
        if not any(self.pads):
            return x
        return nn.functional.pad(x, self.pads, mode="constant", value=PAD_VALUE)

    def crop(self, x):
        top, bottom, left, right = self.box
        return x[..., top:bottom, left:right]


class ConvEncoder(nn.Module):
    """DCGAN encoder: strided 4x4 convolutions from ``isize`` down to 4x4.

    ``features`` is the pyramid (used by the discriminator for feature
    matching); ``final`` maps the 4x4 features to ``out_dim`` channels.
    """

    def __init__(self, isize, n_channels, n_filters, out_dim):
        super().__init__()
        layers = [
            nn.Conv2d(n_channels, n_filters, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        size, width = isize // 2, n_filters
        while size > 4:
            layers += [
                nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width * 2),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            width, size = width * 2, size // 2
        self.features = nn.Sequential(*layers)
        self.final = nn.Conv2d(width, out_dim, 4, 1, 0, bias=False)

    def forward(self, x):
        return self.final(self.features(x)).flatten(1)


class ConvDecoder(nn.Module):
    """DCGAN decoder: transposed convolutions from a 1x1 code up to ``isize``."""

    def __init__(self, isize, n_channels, n_filters, latent_dim):
        super().__init__()
        width, size = n_filters // 2, 4
        while size != isize:
            width, size = width * 2, size * 2
        width = max(width, 1)
        layers = [
            nn.ConvTranspose2d(latent_dim, width, 4, 1, 0, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(True),
        ]
        size = 4
        while size < isize // 2:
            layers += [
                nn.ConvTranspose2d(width, max(width // 2, 1), 4, 2, 1, bias=False),
                nn.BatchNorm2d(max(width // 2, 1)),
                nn.ReLU(True),
            ]
            width, size = max(width // 2, 1), size * 2
        layers += [nn.ConvTranspose2d(width, n_channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.latent_dim = latent_dim

    def forward(self, z):
        return self.net(z.reshape(z.shape[0], self.latent_dim, 1, 1))


def _mlp_widths(n_filters):
    # Mirrors the DCGAN channel pyramid (nf -> 2nf -> 4nf), widest first for
    # the input side of the encoder.
    return [4 * n_filters, 2 * n_filters]


class MLPEncoder(nn.Module):
    """Fully connected encoder for tabular rows."""

    def __init__(self, n_features, n_filters, out_dim):
        super().__init__()
        first, second = _mlp_widths(n_filters)
        self.features = nn.Sequential(
            nn.Linear(n_features, first),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(first, second),
            nn.BatchNorm1d(second),
            nn.LeakyReLU(0.2, inplace=True),
        )
        self.final = nn.Linear(second, out_dim)

    def forward(self, x):
        return self.final(self.features(x))


class MLPDecoder(nn.Module):
    """Fully connected decoder for tabular rows (linear output: inputs are
    standardised, not bounded)."""

    def __init__(self, n_features, n_filters, latent_dim):
        super().__init__()
        first, second = _mlp_widths(n_filters)
        self.net = nn.Sequential(
            nn.Linear(latent_dim, second),
            nn.BatchNorm1d(second),
            nn.ReLU(True),
            nn.Linear(second, first),
            nn.BatchNorm1d(first),
            nn.ReLU(True),
            nn.Linear(first, n_features),
        )

    def forward(self, z):
        return self.net(z)


class Generator(nn.Module):
    """GANomaly generator: encoder -> decoder -> encoder.

    ``forward(x)`` returns ``(x_hat, z, z_hat)`` with ``z = E1(x)``,
    ``x_hat = Dec(z)`` (in the shape of ``x``) and ``z_hat = E2(x_hat)``.

    Parameters
    ----------
    sample_shape : tuple of int
        ``(n_features,)`` for tabular rows or ``(C, H, W)`` for images.
    latent_dim : int
        Size of the latent code ``z``.
    n_filters : int
        Width of the first convolution (images) or the base width of the
        hidden layers (tabular).
    """

    def __init__(self, sample_shape, latent_dim=100, n_filters=64):
        super().__init__()
        self.sample_shape = tuple(int(s) for s in sample_shape)
        if len(self.sample_shape) == 3:
            n_channels = self.sample_shape[0]
            self.padcrop = PadCrop(self.sample_shape)
            isize = self.padcrop.isize
            self.encoder1 = ConvEncoder(isize, n_channels, n_filters, latent_dim)
            self.decoder = ConvDecoder(isize, n_channels, n_filters, latent_dim)
            self.encoder2 = ConvEncoder(isize, n_channels, n_filters, latent_dim)
        else:
            (n_features,) = self.sample_shape
            self.padcrop = None
            self.encoder1 = MLPEncoder(n_features, n_filters, latent_dim)
            self.decoder = MLPDecoder(n_features, n_filters, latent_dim)
            self.encoder2 = MLPEncoder(n_features, n_filters, latent_dim)

    def _pad(self, x):
        return x if self.padcrop is None else self.padcrop.pad(x)

    def _crop(self, x):
        return x if self.padcrop is None else self.padcrop.crop(x)

    def encode(self, x):
        """Latent code ``z = E1(x)``."""
        return self.encoder1(self._pad(x))

    def forward(self, x):
        z = self.encoder1(self._pad(x))
        x_hat = self._crop(self.decoder(z))
        # E2 sees the reconstruction on the same canvas as E1 saw the input,
        # so the padding region cannot leak into z_hat.
        z_hat = self.encoder2(self._pad(x_hat))
        return x_hat, z, z_hat


class SkipGenerator(nn.Module):
    """Skip-GANomaly generator: an encoder-decoder with skip connections.

    Images use a U-Net (Akcay et al., IJCNN 2019): the DCGAN encoder halves
    the (padded) image down to 4x4 and a 4x4 convolution gives the
    bottleneck code ``z`` (``latent_dim`` values); the decoder mirrors it
    with transposed convolutions, and each decoder level receives the
    encoder's activations of the same resolution concatenated to its input.
    Tabular rows use the MLP counterpart (hidden layers of ``4 * n_filters``
    and ``2 * n_filters`` units, each decoder layer also fed the encoder
    layer of the same width).

    ``forward(x)`` returns ``(x_hat, z, z)``: the contract of
    :class:`Generator`, with ``z`` in place of ``z_hat``. Skip-GANomaly has
    no second encoder; it compares an input and its reconstruction in the
    discriminator's feature space instead (see ``SkipGANomalyNet``).

    Parameters
    ----------
    sample_shape : tuple of int
        ``(n_features,)`` for tabular rows or ``(C, H, W)`` for images.
    latent_dim : int
        Size of the bottleneck code ``z``.
    n_filters : int
        Width of the first convolution (images) or the base width of the
        hidden layers (tabular).
    """

    def __init__(self, sample_shape, latent_dim=100, n_filters=64):
        super().__init__()
        self.sample_shape = tuple(int(s) for s in sample_shape)
        self.latent_dim = int(latent_dim)
        if len(self.sample_shape) == 3:
            self._build_unet(n_filters)
        else:
            self._build_mlp(n_filters)

    def _build_unet(self, n_filters):
        n_channels = self.sample_shape[0]
        self.padcrop = PadCrop(self.sample_shape)
        size, width, widths = self.padcrop.isize // 2, n_filters, [n_filters]
        downs = [nn.Sequential(nn.Conv2d(n_channels, n_filters, 4, 2, 1, bias=False),
                               nn.LeakyReLU(0.2, inplace=True))]
        while size > 4:
            downs.append(nn.Sequential(
                nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width * 2),
                nn.LeakyReLU(0.2, inplace=True),
            ))
            width, size = width * 2, size // 2
            widths.append(width)
        self.downs = nn.ModuleList(downs)
        self.bottleneck = nn.Conv2d(width, self.latent_dim, 4, 1, 0, bias=False)
        self.up_bottleneck = nn.Sequential(
            nn.ConvTranspose2d(self.latent_dim, width, 4, 1, 0, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(True),
        )
        # Level i (deepest first) takes the decoder's output (widths[i]
        # channels) and the encoder's skip (widths[i]) and doubles the size.
        ups = []
        for i in reversed(range(len(widths))):
            if i == 0:
                ups.append(nn.Sequential(
                    nn.ConvTranspose2d(2 * widths[0], n_channels, 4, 2, 1, bias=False),
                    nn.Tanh(),
                ))
            else:
                ups.append(nn.Sequential(
                    nn.ConvTranspose2d(2 * widths[i], widths[i - 1], 4, 2, 1, bias=False),
                    nn.BatchNorm2d(widths[i - 1]),
                    nn.ReLU(True),
                ))
        self.ups = nn.ModuleList(ups)

    def _build_mlp(self, n_filters):
        (n_features,) = self.sample_shape
        self.padcrop = None
        first, second = _mlp_widths(n_filters)
        self.downs = nn.ModuleList([
            nn.Sequential(nn.Linear(n_features, first), nn.LeakyReLU(0.2, inplace=True)),
            nn.Sequential(nn.Linear(first, second), nn.BatchNorm1d(second),
                          nn.LeakyReLU(0.2, inplace=True)),
        ])
        self.bottleneck = nn.Linear(second, self.latent_dim)
        self.up_bottleneck = nn.Sequential(
            nn.Linear(self.latent_dim, second), nn.BatchNorm1d(second), nn.ReLU(True))
        self.ups = nn.ModuleList([
            nn.Sequential(nn.Linear(2 * second, first), nn.BatchNorm1d(first),
                          nn.ReLU(True)),
            # Linear output: tabular inputs are standardised, not bounded.
            nn.Linear(2 * first, n_features),
        ])

    def _encode(self, x):
        if self.padcrop is not None:
            x = self.padcrop.pad(x)
        skips = []
        for down in self.downs:
            x = down(x)
            skips.append(x)
        return self.bottleneck(x).flatten(1), skips

    def encode(self, x):
        """Bottleneck code ``z`` of ``x``."""
        return self._encode(x)[0]

    def forward(self, x):
        z, skips = self._encode(x)
        shape = (z.shape[0], self.latent_dim) + ((1, 1) if self.padcrop else ())
        h = self.up_bottleneck(z.reshape(shape))
        for up, skip in zip(self.ups, reversed(skips)):
            h = up(torch.cat([h, skip], dim=1))
        if self.padcrop is not None:
            h = self.padcrop.crop(h)
        return h, z, z


class Discriminator(nn.Module):
    """Discriminator: the encoder's feature pyramid plus a one-logit head.

    ``forward(x)`` returns ``(logits, features)``; ``features`` are the
    penultimate activations used by the generator's feature-matching loss.
    Logits (not probabilities) are returned so the loss can use the
    numerically stable ``BCEWithLogits``.
    """

    def __init__(self, sample_shape, n_filters=64):
        super().__init__()
        self.sample_shape = tuple(int(s) for s in sample_shape)
        if len(self.sample_shape) == 3:
            self.padcrop = PadCrop(self.sample_shape)
            body = ConvEncoder(self.padcrop.isize, self.sample_shape[0], n_filters, 1)
        else:
            self.padcrop = None
            body = MLPEncoder(self.sample_shape[0], n_filters, 1)
        self.features = body.features
        self.classifier = body.final

    def forward(self, x):
        if self.padcrop is not None:
            x = self.padcrop.pad(x)
        features = self.features(x)
        return self.classifier(features).flatten(), features


def weights_init(module):
    """DCGAN initialisation: weights N(0, 0.02), BatchNorm scale N(1, 0.02)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
