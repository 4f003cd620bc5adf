"""``notebook-figure``: show a figure produced by one of the executed notebooks.

The notebooks (``docs/notebooks/*.ipynb``, executed by MyST-NB) are read before the guide
pages (Sphinx reads documents in sorted order, and this extension is not parallel-safe),
so when a guide page says::

    ```{notebook-figure} 07_hessian_spectrum
    ```

the image outputs of that notebook are known: the directive inserts the last one (the
notebook's main figure; ``:index:`` picks another) with a link to the notebook. When the
notebooks are not executed (``-D nb_execution_mode=off``) it inserts a sentence linking to
the notebook instead, without a warning.
"""

from __future__ import annotations

from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective


def _record_images(app, doctree) -> None:
    docname = app.env.docname
    if not docname.startswith("notebooks/"):
        return
    srcdir = Path(app.srcdir)
    folder = Path(docname).parent
    found = []
    for node in doctree.findall(nodes.image):
        uri = node.get("candidates", {}).get("*") or node["uri"]
        if not uri.endswith(".png"):
            continue
        # Relative to the source folder once Sphinx's image collector has run, else to the
        # notebook's folder; "/" makes it source-relative for the page that shows it.
        for candidate in (Path(uri.lstrip("/")), folder / uri):
            if (srcdir / candidate).is_file():
                found.append("/" + candidate.as_posix())
                break
    figures = getattr(app.env, "gradtx_notebook_figures", {})
    figures[docname] = found
    app.env.gradtx_notebook_figures = figures


class NotebookFigure(SphinxDirective):
    required_arguments = 1
    option_spec = {"index": int, "width": directives.unchanged}

    def run(self):
        stem = self.arguments[0]
        docname = f"notebooks/{stem}"
        uris = getattr(self.env, "gradtx_notebook_figures", {}).get(docname, [])
        xref = self._link(docname, stem)
        if not uris:
            link = nodes.paragraph()
            link += nodes.Text("(The figure appears here when the notebooks are executed: see ")
            link += xref
            link += nodes.Text(".)")
            return [link]
        uri = uris[self.options.get("index", -1)]
        figure = nodes.figure()
        image = nodes.image(uri=uri, width=self.options.get("width", "100%"))
        figure += image
        caption = nodes.caption()
        caption += nodes.Text("From the executed notebook ")
        caption += xref
        figure += caption
        return [figure]

    def _link(self, docname, text):
        from sphinx.addnodes import pending_xref

        node = pending_xref(
            "", refdomain="std", reftype="doc", reftarget=f"/{docname}", refexplicit=True
        )
        node += nodes.inline(text=text)
        return node


def setup(app):
    app.connect("doctree-read", _record_images)
    app.add_directive("notebook-figure", NotebookFigure)
    return {"parallel_read_safe": False, "parallel_write_safe": True}
