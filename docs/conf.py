"""Sphinx configuration of the skganomaly documentation.

Build with ``make -C docs html`` (warnings are errors, the gallery is
executed); ``make -C docs html-noplot`` skips running the examples.
"""

import os
import sys
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The local Sphinx helpers. skganomaly itself is imported from the installed
# package (``pip install -e ".[docs]"``).
sys.path.insert(0, str(HERE / "sphinxext"))

import skganomaly  # noqa: E402
import torch  # noqa: E402

# The gallery examples run in this process and train small networks. With
# other processes on the cores (CI on two cores, a busy laptop), torch's
# default of one thread per core made such fits up to ~5x slower than one
# thread in our measurements, so the build uses one thread unless told
# otherwise.
torch.set_num_threads(int(os.environ.get("SKGANOMALY_DOCS_NUM_THREADS", "1")))

# -- project ---------------------------------------------------------------

project = "skganomaly"
author = "skganomaly developers"
copyright = f"{date.today().year}, {author}"
release = skganomaly.__version__
version = ".".join(release.split(".")[:2])

# -- general ---------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
    "skganomaly_docs",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb"]
root_doc = "index"
default_role = "literal"
pygments_style = "sphinx"
pygments_dark_style = "monokai"

# -- autodoc / autosummary / numpydoc ----------------------------------------

autosummary_generate = True
# "fit()" rather than "GANomalyDetector.fit()" in the page's contents.
toc_object_entries_show_parents = "hide"
autodoc_default_options = {"members": True}
autodoc_typehints = "none"
# numpydoc lists the methods in a table at the top of each class page; the
# class template then documents each of them.
numpydoc_show_class_members = True
# Inherited methods are listed for the estimator (get_params, fit_predict,
# ...), not for the torch modules and the skorch net, whose inherited
# methods are those of torch and skorch.
numpydoc_show_inherited_class_members = {
    "skganomaly.net.GANomalyNet": False,
    "skganomaly.net.SkipGANomalyNet": False,
    "skganomaly.networks.Generator": False,
    "skganomaly.networks.SkipGenerator": False,
    "skganomaly.networks.Discriminator": False,
}
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# -- doctest (``make doctest`` runs the code in the user guide) --------------

doctest_global_setup = """
import numpy as np
np.set_printoptions(precision=3, suppress=True)
"""

# -- matplotlib plot directive (the figures of the user guide) --------------

plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 150)]
plot_rcparams = {"savefig.bbox": "tight"}

# -- sphinx-gallery ----------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    # The order a reader should take them in (see docs/sphinxext).
    "within_subsection_order": "skganomaly_docs.GalleryOrder",
    "doc_module": ("skganomaly",),
    "backreferences_dir": "gen_modules/backreferences",
    "reference_url": {"skganomaly": None},
    "inspect_global_variables": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "download_all_examples": False,
    "show_signature": False,
    "min_reported_time": 1,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
}

# -- HTML ----------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skganomaly {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "header_links_before_dropdown": 6,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
# A left sidebar only where there is a section to navigate (the gallery's
# index and the API pages); single pages and the examples, whose code needs
# the width, go without (examples link to each other at the bottom).
html_sidebars = {
    page: []
    for page in ["index", "getting_started", "user_guide", "api", "benchmarks",
                 "changelog", "auto_examples/plot_*"]
}
html_context = {"default_mode": "light"}
