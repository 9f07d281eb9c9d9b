"""points.py: --at parsing and seeded random points inside the domain."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradcheck_cli.errors import DomainError, OptionError
from gradcheck_cli.expression import parse_constant
from gradcheck_cli.points import parse_at, parse_names, random_points, split_top_level


def test_split_respects_parentheses():
    assert split_top_level("x=atan2(1, 2),y=3") == ["x=atan2(1, 2)", "y=3"]


def test_parse_at_named_and_bare():
    assert parse_at("x=1.5,y=-2", ("x", "y"), parse_constant).tolist() == [1.5, -2.0]
    assert parse_at("y = pi/4, x = log(8, 2)", ("x", "y"), parse_constant).tolist() == pytest.approx([3.0, math.pi / 4])
    assert parse_at("1.5", ("x",), parse_constant).tolist() == [1.5]


@pytest.mark.parametrize(
    "spec, names, message",
    [
        ("1.5", ("x", "y"), "write name=value for each variable"),
        ("x=1", ("x", "y"), "no value for y"),
        ("x=1,z=2", ("x",), "unknown variable 'z'"),
        ("x=1,x=2", ("x",), "'x' is given twice"),
        ("x=", ("x",), "no value for 'x'"),
    ],
)
def test_parse_at_errors(spec, names, message):
    with pytest.raises(OptionError, match=message):
        parse_at(spec, names, parse_constant)


def test_parse_names():
    assert parse_names("x, y", "--wrt") == ["x", "y"]
    with pytest.raises(OptionError, match="not a variable name"):
        parse_names("x,1y", "--wrt")
    with pytest.raises(OptionError, match="named twice"):
        parse_names("x,x", "--wrt")


def test_random_points_are_seeded_and_inside_the_domain():
    valid = lambda c: c[:, 0] > 0  # ln(x)
    a = random_points(valid, 2, 50, seed=7)
    b = random_points(valid, 2, 50, seed=7)
    assert a.shape == (50, 2) and np.all(a[:, 0] > 0)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, random_points(valid, 2, 50, seed=8))


def test_no_valid_point_is_a_domain_error():
    with pytest.raises(DomainError, match="give a point inside the domain with --at"):
        random_points(lambda c: c[:, 0] > 1e6, 1, 3, seed=0)


# ---------------------------------------------------------------- issue 10: sharp edges


@pytest.mark.parametrize(
    "spec, message",
    [
        ("x=abc", "--at 'x=abc': the value of 'x' is not a number or a constant expression: 'abc' is not a constant"),
        ("abc", "--at 'abc': the value of 'x' is not a number or a constant expression: 'abc' is not a constant"),
        ("x=2*ee+1", "'ee' is not a constant"),
        ("x=1/", "--at 'x=1/': the value of 'x' is not a number or a constant expression: syntax error"),
        ("x=sqrt(-1)", "the value of 'x' is not a number or a constant expression"),
    ],
)
def test_a_bad_value_is_blamed_on_the_value_not_on_a_variable(spec, message):
    with pytest.raises(OptionError) as info:
        parse_at(spec, ("x",), parse_constant)
    assert str(info.value).startswith(f"--at {spec!r}: the value of 'x' is not a number")
    assert message in str(info.value)
    assert "unknown variable" not in str(info.value)


def test_parse_at_names_the_option_it_parses():
    with pytest.raises(OptionError, match=r"^--x0 'y=1': unknown variable 'y'"):
        parse_at("y=1", ("x",), parse_constant, option="--x0")


def test_more_points_than_draws_names_the_draw_limit():
    from gradcheck_cli.points import BATCH, MAX_BATCHES

    draws = BATCH * MAX_BATCHES
    with pytest.raises(OptionError) as info:
        random_points(lambda c: np.ones(len(c), bool), 1, draws + 1, seed=0)
    assert str(info.value) == (
        f"--points {draws + 1}: at most {draws} random points (gradcheck draws {draws} "
        "candidates); give more points with --at"
    )
    assert len(random_points(lambda c: np.ones(len(c), bool), 1, draws, seed=0)) == draws


def test_a_half_domain_that_runs_out_says_how_many_points_it_found():
    with pytest.raises(DomainError) as info:
        random_points(lambda c: c[:, 0] > 0, 1, 15000, seed=0)
    message = str(info.value)
    assert "ask for at most --points" in message and "inside the domain" not in message


def test_text_names_sees_cancelled_variables_but_not_exponents():
    from gradcheck_cli.points import text_names

    assert text_names("x**2 + 0*y") == {"x", "y"}
    assert text_names("1e5*x + 2.5E-3 + sin(z_1)") == {"x", "sin", "z_1"}


@pytest.mark.parametrize(
    "text, times, sizes",
    [("3,4", True, (3, 4)), ("3x4", True, (3, 4)), ("(2, 3)", True, (2, 3)), ("(3,)", True, (3,)),
     ("10 5 10", False, (10, 5, 10)), ("10,5,10", False, (10, 5, 10))],
)
def test_parse_sizes_accepts_the_usual_spellings(text, times, sizes):
    from gradcheck_cli.points import parse_sizes

    assert parse_sizes(text, "--shape", "3,4", times=times) == sizes


@pytest.mark.parametrize(
    "text, option, message",
    [
        ("3,x", "--shape", "--shape must be whole numbers, e.g. 3,4; 'x' is not a whole number in '3,x'"),
        ("10 x 10", "--dims", "--dims must be whole numbers, e.g. 3,4; 'x' is not a whole number in '10 x 10'"),
        ("10 5.5 10", "--dims", "'5.5' is not a whole number"),
        ("3,,4", "--shape", "an empty size in '3,,4'"),
        ("", "--shape", "an empty size"),
        ("0,3", "--shape", "--shape: every size must be at least 1, got '0,3'"),
    ],
)
def test_parse_sizes_refuses_anything_else_naming_the_option(text, option, message):
    from gradcheck_cli.points import parse_sizes

    with pytest.raises(OptionError) as info:
        parse_sizes(text, option, "3,4", times=option == "--shape")
    assert message in str(info.value)


def test_random_points_read_back_exactly_from_their_labels():
    from gradcheck_cli.results import number_label

    pts = random_points(lambda c: np.all(c > -50, axis=1), 2, 50, seed=3)
    for v in pts.ravel():
        label = number_label(v)
        digits = label.lstrip("-").split("e")[0].replace(".", "").lstrip("0")
        assert float(label) == v and len(digits) <= 6, label


def test_rounding_to_six_digits_never_leaves_the_domain():
    # sqrt(x - 1): a candidate 1.0000001 rounds to 1, where d/dx is infinite: it is dropped
    valid = lambda c: c[:, 0] > 1.0  # noqa: E731
    pts = random_points(valid, 1, 200, seed=0)
    assert (pts[:, 0] > 1.0).all() and len(pts) == 200
