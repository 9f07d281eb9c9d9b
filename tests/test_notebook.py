"""Reports in a notebook: ``Report._repr_html_`` shows the terminal's table with its colours,
and the ``check_*`` functions print nothing."""

from __future__ import annotations

import html
import re

import numpy as np

import gradcheck_cli


def wrong(x):
    return np.sum(x**2), 3 * x


def plain(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def test_a_report_renders_as_the_same_coloured_table():
    from gradcheck_cli.views.table import to_text

    report = gradcheck_cli.check_gradient(wrong, np.ones((2, 3)))
    page = report._repr_html_()
    assert page.startswith("<pre") and page.rstrip().endswith("</pre>")
    assert "&lt;lambda&gt;" not in page and "wrong -&gt; (cost, grad)" in page  # names escaped
    lines = [line.rstrip() for line in plain(page).splitlines()]
    assert lines == [line.rstrip() for line in to_text(report, width=110).splitlines()]
    # FAIL is bold red, as in the terminal; the summary line too
    assert '<span style="color: #800000; text-decoration-color: #800000; font-weight: bold">FAIL' in page
    assert "6 checks: 0 pass, 0 warn, 6 fail" in plain(page)


def test_a_passing_model_report_is_green():
    class Linear:
        def __init__(self):
            self.params = {"W": np.ones((3, 2))}

        def loss(self, X, y):
            r = X @ self.params["W"] - y
            return 0.5 * np.sum(r**2), {"W": X.T @ r}

    report = gradcheck_cli.check_model(Linear(), np.eye(3) + 0.5, np.zeros((3, 2)))
    page = report._repr_html_()
    assert "model Linear(); loss(X, y) -&gt; (loss, grads)" in page
    assert '<span style="color: #008000; text-decoration-color: #008000; font-weight: bold">PASS' in page
    assert "#800000" not in page


def test_check_functions_print_nothing(capsys):
    gradcheck_cli.check_gradient(wrong, np.ones(3))
    gradcheck_cli.check_expression("sin(x)", at=["1"])
    gradcheck_cli.check_layer(lambda x: (2 * x, x), lambda d, c: 2 * d, {"x": np.ones((2, 2))})
    out, err = capsys.readouterr()
    assert out == "" and err == ""
