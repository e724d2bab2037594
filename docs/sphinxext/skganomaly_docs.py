"""Local Sphinx helpers of the skganomaly documentation.

* :class:`GalleryOrder`: the order of the gallery examples (sphinx-gallery's
  ``within_subsection_order``).
* Links to the documentation of scikit-learn, NumPy, PyTorch and skorch for
  references Sphinx cannot resolve locally (the build runs offline, so
  intersphinx inventories cannot be downloaded): the URLs follow each
  project's stable page layout.
* A check that every public name (``skganomaly.__all__`` and the
  ``__all__`` of each public subpackage) has a page in the API reference,
  so a new public name cannot go undocumented.
"""

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Gallery examples in reading order; examples not listed come after these,
#: alphabetically.
GALLERY_ORDER = [
    "plot_quickstart_digits.py",
    "plot_reconstructions.py",
    "plot_compare_detectors_2d.py",
    "plot_pipeline.py",
    "plot_grid_search.py",
    "plot_persistence.py",
    "plot_onnx_export.py",
    "plot_training_curves.py",
]


class GalleryOrder:
    """Sort key for sphinx-gallery: position in :data:`GALLERY_ORDER`."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        name = Path(filename).name
        if name in GALLERY_ORDER:
            return (GALLERY_ORDER.index(name), name)
        return (len(GALLERY_ORDER), name)

    def __repr__(self):
        return f"<{type(self).__name__}>"


# -- links to other projects' documentation ------------------------------------

SKLEARN = "https://scikit-learn.org/stable"
NUMPY = "https://numpy.org/doc/stable/reference/generated"
TORCH = "https://docs.pytorch.org/docs/stable/generated"
SKORCH = "https://skorch.readthedocs.io/en/stable"


#: Labels of scikit-learn's user guide that docstrings inherited from
#: scikit-learn (``get_metadata_routing``) refer to.
SKLEARN_LABELS = {
    "metadata_routing": f"{SKLEARN}/metadata_routing.html",
}


def _split_object(target):
    """``(module_name, qualified_object_name)`` for a dotted target that
    imports, or ``None``."""
    parts = target.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:cut]))
        except Exception:
            continue
        obj = module
        for attr in parts[cut:]:
            obj = getattr(obj, attr, None)
            if obj is None:
                return None
        return module.__name__, ".".join(parts[cut:]), obj
    return None


def external_url(domain, reftype, target):
    """URL of ``target`` in the docs of scikit-learn, NumPy, torch or skorch."""
    if domain == "std" and reftype == "term":
        # Terms such as :term:`fit` in scikit-learn style docstrings.
        anchor = re.sub(r"[^a-z0-9]+", "-", target.lower()).strip("-")
        return f"{SKLEARN}/glossary.html#term-{anchor}"
    if domain == "std" and reftype == "ref":
        return SKLEARN_LABELS.get(target)
    if domain != "py":
        return None
    root = target.split(".")[0]
    if root not in {"sklearn", "numpy", "torch", "skorch"}:
        return None
    found = _split_object(target)
    if found is None:
        return None
    module_name, qualname, obj = found
    head = qualname.split(".")[0]
    page = f"{module_name}.{head}"
    if root == "sklearn":
        if inspect.ismodule(obj):
            return f"{SKLEARN}/api/{target}.html"
        return f"{SKLEARN}/modules/generated/{page}.html#{target}"
    if root == "numpy":
        return f"{NUMPY}/{target}.html"
    if root == "torch":
        return f"{TORCH}/{page}.html#{target}"
    # skorch documents each submodule on one page, under the public name:
    # skorch.callbacks.X on callbacks.html, skorch.history.History on
    # history.html; skorch.NeuralNet is documented as skorch.net.NeuralNet.
    parts = target.split(".")
    if len(parts) >= 3:
        return f"{SKORCH}/{parts[1]}.html#{target}"
    defined_in = getattr(obj, "__module__", module_name) or module_name
    page = defined_in.split(".")[1] if "." in defined_in else "index"
    return f"{SKORCH}/{page}.html#{defined_in}.{qualname}"


def resolve_external(app, env, node, contnode):
    url = external_url(node.get("refdomain"), node.get("reftype"),
                       node.get("reftarget", ""))
    if url is None:
        return None
    ref = nodes.reference("", "", internal=False, refuri=url,
                          reftitle=node.get("reftarget"))
    ref += contnode
    return ref


# -- every public name in the API reference --------------------------------------


def public_names():
    """Dotted names of everything public: ``skganomaly.__all__`` and the
    ``__all__`` of each public subpackage (``skganomaly.<name>``, no leading
    underscore)."""
    import skganomaly

    names = [f"skganomaly.{name}" for name in skganomaly.__all__
             if not name.startswith("__")]
    for info in pkgutil.iter_modules(skganomaly.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"skganomaly.{info.name}")
        names += [f"{module.__name__}.{name}"
                  for name in getattr(module, "__all__", [])]
    return names


def check_api_coverage(app, env):
    generated = Path(app.srcdir) / "gen_modules"
    for name in public_names():
        if not (generated / f"{name}.rst").exists():
            logger.warning(
                "%s is public (in an __all__) but has no page in the API "
                "reference: add it to an autosummary list in docs/api.rst.",
                name,
            )


def allow_missing_gallery_images(app, config):
    """``make html-noplot`` does not run the examples, so the figures that
    pages take from the gallery do not exist: do not fail on that."""
    if str(config.plot_gallery).lower() in {"0", "false", "no", "off"}:
        config.suppress_warnings = [*config.suppress_warnings, "image.not_readable"]


def setup(app):
    app.connect("config-inited", allow_missing_gallery_images, priority=900)
    app.connect("missing-reference", resolve_external)
    app.connect("env-updated", check_api_coverage)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
