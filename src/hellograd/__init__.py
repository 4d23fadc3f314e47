"""hellograd: a small, fast reverse-mode automatic differentiation engine on
NumPy.

Written chapter by chapter in the book *Hello, Autodiff*.
"""

from .anomaly import AnomalyError, detect_anomaly
from .autograd import grad, no_grad, is_grad_enabled, topological_order
from .custom import custom_gradient
from .dual import Dual
from .gradcheck import GradcheckError, gradcheck
from .listing import show_source
from .scalar import Scalar
from .tensor import Tensor, make_op
# Importing ops also adds methods to Tensor (x.clip, x.logsumexp, ...).
from .ops import concatenate, maximum, minimum, stack, where
from .viz import draw_graph

# The building blocks of Part III, as `hellograd.nn.Linear`,
# `hellograd.optim.Adam`, ...
from . import nn, optim
# The checkers of the build-it-yourself exercises, as
# `hellograd.testing.check_dual`, ...
from . import testing
# fastest(): the chapters' timings, steady on a busy machine.
from . import timing


def __getattr__(name):
    # hellograd.data is imported on first use, not here:
    # `python -m hellograd.data` then runs it fresh (no runpy warning), and
    # `import hellograd` does not load urllib and gzip.
    if name == "data":
        import importlib

        return importlib.import_module(".data", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = [
    "Tensor",
    "make_op",
    "where",
    "maximum",
    "minimum",
    "concatenate",
    "stack",
    "Scalar",
    "Dual",
    "grad",
    "no_grad",
    "is_grad_enabled",
    "topological_order",
    "gradcheck",
    "GradcheckError",
    "custom_gradient",
    "detect_anomaly",
    "AnomalyError",
    "draw_graph",
    "show_source",
    "data",
    "nn",
    "optim",
    "testing",
    "timing",
]
