"""Figure of GANomaly for the user guide: the encoder -> decoder -> encoder
generator, the discriminator, the three generator losses and the score.

Drawn with matplotlib only (run by Sphinx's ``plot`` directive); run it
directly to see the figure in a window.
"""

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Polygon, Rectangle

ENC = "#4C72B0"
DEC = "#DD8452"
DIS = "#8172B3"
CODE = "#55A868"
LOSS = "#C44E52"


def trapezoid(ax, x0, x1, yc, h_left, h_right, color, label):
    pts = [(x0, yc - h_left / 2), (x1, yc - h_right / 2),
           (x1, yc + h_right / 2), (x0, yc + h_left / 2)]
    ax.add_patch(Polygon(pts, closed=True, facecolor=color, alpha=0.85,
                         edgecolor="black", linewidth=1))
    ax.text((x0 + x1) / 2, yc, label, ha="center", va="center", color="white",
            fontsize=13, fontweight="bold")


def image(ax, xc, yc, label, size=1.0):
    ax.add_patch(Rectangle((xc - size / 2, yc - size / 2), size, size,
                           facecolor="#f2f2f2", edgecolor="black", linewidth=1))
    # a few "pixels" so that the box reads as an image
    for i in range(3):
        for j in range(3):
            if (i + j) % 2 == 0:
                ax.add_patch(Rectangle(
                    (xc - size / 2 + 0.08 + i * 0.28 * size,
                     yc - size / 2 + 0.08 + j * 0.28 * size),
                    0.22 * size, 0.22 * size, facecolor="#9a9a9a", linewidth=0))
    ax.text(xc, yc - size / 2 - 0.25, label, ha="center", va="top", fontsize=15)


def code(ax, xc, yc, label):
    ax.add_patch(Rectangle((xc - 0.13, yc - 0.7), 0.26, 1.4, facecolor=CODE,
                           edgecolor="black", linewidth=1))
    ax.text(xc, yc - 0.95, label, ha="center", va="top", fontsize=15)


def arrow(ax, start, end, color="black", style="-|>", rad=0.0, ls="-"):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=14,
                                 color=color, linewidth=1.4, linestyle=ls,
                                 connectionstyle=f"arc3,rad={rad}"))


fig, ax = plt.subplots(figsize=(11, 6.2))
ax.set_xlim(-0.3, 14.3)
ax.set_ylim(-1.6, 7.4)
ax.set_aspect("equal")
ax.axis("off")

y = 4.2
# Generator: E1 -> z -> Dec -> x_hat -> E2 -> z_hat
ax.add_patch(FancyBboxPatch((1.15, 2.35), 11.1, 3.55,
                            boxstyle="round,pad=0.05,rounding_size=0.25",
                            facecolor="none", edgecolor="grey", linestyle="--"))
ax.text(1.35, 2.6, "Generator", fontsize=12, color="dimgrey", va="center")
image(ax, 0.5, y, "$x$")
trapezoid(ax, 1.5, 3.3, y, 2.2, 0.8, ENC, "$E_1$")
code(ax, 3.8, y, "$z$")
trapezoid(ax, 4.3, 6.1, y, 0.8, 2.2, DEC, "Dec")
image(ax, 7.1, y, r"$\hat{x}$")
trapezoid(ax, 8.1, 9.9, y, 2.2, 0.8, ENC, "$E_2$")
code(ax, 10.4, y, r"$\hat{z}$")
for a, b in [(1.0, 1.5), (3.3, 3.67), (3.93, 4.3), (6.1, 6.6), (7.6, 8.1),
             (9.9, 10.27)]:
    arrow(ax, (a, y), (b, y))

# Discriminator, fed with x and x_hat
trapezoid(ax, 4.5, 6.5, 0.6, 1.8, 0.7, DIS, "D")
arrow(ax, (0.5, y - 1.25), (4.5, 0.85), rad=0.25)
arrow(ax, (7.1, y - 1.25), (6.0, 1.35), rad=0.0)
ax.text(6.75, 0.6, "real / fake\n(features $f$)", fontsize=11, va="center")

# The three losses of the generator
arrow(ax, (0.5, y + 0.55), (7.1, y + 0.55), color=LOSS, style="<|-|>", rad=-0.28,
      ls="--")
ax.text(3.8, 6.45, r"$\mathcal{L}_{con} = \Vert x - \hat{x} \Vert_1$",
        color=LOSS, ha="center", fontsize=14)
arrow(ax, (3.8, y + 0.75), (10.4, y + 0.75), color=LOSS, style="<|-|>", rad=-0.22,
      ls="--")
ax.text(10.2, 6.45, r"$\mathcal{L}_{enc} = \Vert z - \hat{z} \Vert_2^2$",
        color=LOSS, ha="center", fontsize=14)
ax.text(5.5, -0.55, r"$\mathcal{L}_{adv} = \Vert f(x) - f(\hat{x}) \Vert_2^2$",
        color=LOSS, fontsize=14, ha="center")
ax.text(7.0, -1.3, r"generator: $w_{adv}\,\mathcal{L}_{adv} + w_{con}\,"
        r"\mathcal{L}_{con} + w_{enc}\,\mathcal{L}_{enc}$ (defaults 1, 50, 1);"
        r"  D: real vs. fake cross-entropy", fontsize=12,
        ha="center")

# The score
ax.text(10.7, 1.55, "anomaly score", fontsize=12, ha="center")
ax.text(10.7, 0.85, r"$A(x) = \mathrm{mean}\,(z - \hat{z})^2$", fontsize=14,
        ha="center")
ax.text(10.7, 0.2, r"score_samples $= -A(x)$", fontsize=11, ha="center",
        color="dimgrey")
arrow(ax, (10.4, y - 1.5), (10.7, 1.85), color="dimgrey", ls=":")

plt.show()
