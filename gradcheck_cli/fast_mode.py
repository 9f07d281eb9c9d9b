"""Moved: the search is ``blackbox.search``, the judgement of a direction ``verdict``.

Kept only so that branches written against the old name still import; delete once no
module imports ``fast_mode``.
"""

from .verdict import Agreement, judge_direction  # noqa: F401
