"""gradcheck: check hand-written gradients against finite differences.

The Python API (the command line is a thin shell over it)::

    import numpy as np
    from gradcheck_cli import assert_gradient, check_gradient

    def quad(x):
        return np.sum(x**2), 2 * x

    def test_quad_gradient():
        assert_gradient(quad, np.random.default_rng(0).standard_normal((3, 4)))

    report = check_gradient(quad, np.ones(3))
    report.passed, report.status.value    # (True, 'pass')

``check_*`` return a :class:`Report` (frozen: ``.status``, ``.passed``, ``.checks``,
``.blocks``, ``.to_dict()``); ``assert_*`` raise ``AssertionError`` whose message is
the report's table.  Bad input raises :class:`InputError` (a user function that raises:
:class:`UserCodeError`, with the user's traceback in ``.user_traceback``).

Names are imported lazily, so ``import gradcheck_cli`` loads neither numpy nor sympy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "1.0.0"

# public name -> module that defines it
_LAZY = {
    "check_gradient": "checks.func",
    "check_expression": "checks.expr",
    "check_network": "checks.net",
    "check_sanity": "checks.sanity",
    "check_layer": "checks.layer",
    "check_model": "checks.model",
    "assert_gradient": "testing",
    "assert_expression": "testing",
    "assert_network": "testing",
    "assert_layer": "testing",
    "assert_model": "testing",
    "Report": "results",
    "Check": "results",
    "BlockResult": "results",
    "Status": "verdict",
    "Thresholds": "verdict",
    "Method": "choices",
    "GradcheckError": "errors",
    "InputError": "errors",
    "OptionError": "errors",
    "LoadError": "errors",
    "UserCodeError": "errors",
    "to_junit_xml": "views.junit",
    "write_junit": "views.junit",
}

__all__ = sorted(_LAZY) + ["__version__"]

if TYPE_CHECKING:  # for type checkers and IDEs; never executed
    from .checks.func import check_gradient  # noqa: F401
    from .checks.expr import check_expression  # noqa: F401
    from .checks.layer import check_layer  # noqa: F401
    from .checks.model import check_model  # noqa: F401
    from .checks.net import check_network  # noqa: F401
    from .checks.sanity import check_sanity  # noqa: F401
    from .choices import Method  # noqa: F401
    from .errors import GradcheckError, InputError, LoadError, OptionError, UserCodeError  # noqa: F401
    from .views.junit import to_junit_xml, write_junit  # noqa: F401
    from .results import BlockResult, Check, Report  # noqa: F401
    from .testing import assert_expression, assert_gradient, assert_layer, assert_model, assert_network  # noqa: F401
    from .verdict import Status, Thresholds  # noqa: F401


#: API names whose reports a notebook shows: getting one installs the HTML view
_REPORTING = ("check_", "assert_", "Report")


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gradcheck_cli' has no attribute {name!r}")
    if name.startswith(_REPORTING):
        import_module(".views.notebook", __name__)  # Report._repr_html_ (rich's HTML export)
    try:
        value = getattr(import_module(f".{module}", __name__), name)
    except AttributeError:
        raise AttributeError(
            f"gradcheck_cli.{name} is not available in this version (gradcheck_cli.{module} lacks it)"
        ) from None
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
