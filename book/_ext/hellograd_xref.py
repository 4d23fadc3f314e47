"""Resolve the short Python references that hellograd's docstrings use.

The API page (book/api.md) documents every object once, under the module that defines it
(``hellograd.tensor.Tensor``). Docstrings and chapters, though, write what a reader would
type: :class:`hellograd.Tensor`, :meth:`Tensor.backward`, :func:`no_grad`. Sphinx looks
those names up literally and, with ``-n``, warns. This extension looks them up the way Python
would: import the name (relative to the docstring's module, then to the ``hellograd``
package), take the object's real ``__module__.__qualname__``, and link there.

- A name that imports to a documented object gets its link.
- A name that imports but is not on the API page (a constant, a private helper) and a name
  from another library (``numpy.ndarray``, ``pathlib.Path``) is shown as code without a
  link: the site is offline, so there is no intersphinx to link other libraries to.
- A name that does not import at all is left alone, so Sphinx still reports the typo.
"""

from __future__ import annotations

import importlib

PACKAGE = "hellograd"


def _import(dotted: str):
    """The object that ``dotted`` names and its real dotted name, or (None, None)."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        real = obj.__name__
        for attr in parts[split:]:
            try:
                obj = getattr(obj, attr)
            except AttributeError:
                return None, None
            # Functions and classes know where they live; a property or a constant does
            # not, so it takes its owner's real name.
            module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
            if isinstance(module, str) and isinstance(qualname, str):
                real = f"{module}.{qualname}"
            else:
                real = f"{real}.{attr}"
        return obj, real
    return None, None


def resolve_short_reference(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip("~.")
    module = node.get("py:module") or ""
    candidates = [f"{module}.{target}"] if module else []
    candidates += [f"{PACKAGE}.{target}", target]
    for dotted in candidates:
        obj, real = _import(dotted)
        if real is None:
            continue
        domain = env.get_domain("py")
        if real in domain.objects:
            return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"],
                                       real, node, contnode)
        # Importable, but not on the API page: show it as code, unlinked.
        return contnode
    return None


def setup(app):
    app.connect("missing-reference", resolve_short_reference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
