"""The package's doctests are tests: every ``>>>`` example in a docstring of the installed
``gradcheck_cli`` is run (``doctest`` on each module, imported as the suite imports the
package, so a clone and a non-editable install collect the same examples)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import gradcheck_cli

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def module_names() -> list[str]:
    """Every module of the package (``__main__`` left out: importing it runs the CLI)."""
    names = [gradcheck_cli.__name__]
    for info in pkgutil.walk_packages(gradcheck_cli.__path__, gradcheck_cli.__name__ + "."):
        if not info.name.endswith(".__main__"):
            names.append(info.name)
    return sorted(names)


def docstring_examples() -> list:
    """One parameter per docstring that holds examples: (module name, test name)."""
    params = []
    for name in module_names():
        module = importlib.import_module(name)
        for test in doctest.DocTestFinder(exclude_empty=True).find(module, name):
            if test.examples:
                params.append(pytest.param(name, test.name, id=test.name))
    return params


EXAMPLES = docstring_examples()


def test_the_docstrings_hold_examples():
    assert len(EXAMPLES) >= 16, [p.id for p in EXAMPLES]


@pytest.mark.parametrize(("module_name", "test_name"), EXAMPLES)
def test_docstring_example(module_name, test_name):
    module = importlib.import_module(module_name)
    (test,) = [t for t in doctest.DocTestFinder().find(module, module_name) if t.name == test_name]
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)
    assert result.attempted > 0
