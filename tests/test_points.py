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
