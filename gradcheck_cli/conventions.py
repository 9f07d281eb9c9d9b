"""Course presets (``--convention``): the tolerances a course's handout uses, in our rule.

numpy-free.  The verdict stays ours (``verdict``: an interval of the numeric value
against the tolerances, relative error ``|a - n| / max(|a|, |n|, floor)``); a preset only
sets the tolerances and the floor, so that a student reads the handout's numbers:

=========  =======================================================================  ==========================
preset     the handout                                                              here
=========  =======================================================================  ==========================
cs224n     ``gradcheck_naive``: ``|n - a| / max(1, |n|, |a|) > 1e-5`` fails (h=1e-4)  floor 1, pass 1e-5, fail 1e-5
cs231n     ``rel_error = |a - n| / max(1e-8, |a| + |n|)``: < 1e-7 good, > 1e-2      floor 1e-8, pass 2e-7,
           wrong, between: uncomfortable (h = 1e-5)                                  fail 2e-2
=========  =======================================================================  ==========================

CS231n's denominator ``|a| + |n|`` is twice ours where ``a ~ n``, so its bands are
doubled here.  The steps stay ours (chosen per entry; ``--eps`` where a command has it).
"""

from __future__ import annotations

from .choices import Convention

#: (pass_tol, fail_tol, floor) of each preset
PRESETS: dict[Convention, tuple[float, float, float]] = {
    Convention.CS224N: (1e-5, 1e-5, 1.0),
    Convention.CS231N: (2e-7, 2e-2, 1e-8),
}

RULES: dict[Convention, str] = {
    Convention.CS224N: ("convention cs224n (gradcheck_naive): relative error |a - n| / max(1, |a|, |n|), "
                        "fail above 1e-5, no warn band; steps chosen per entry (the handout's h is 1e-4)"),
    Convention.CS231N: ("convention cs231n (rel_error): the handout's |a - n| / max(1e-8, |a| + |n|) below 1e-7 "
                        "is good and above 1e-2 wrong; with our denominator max(|a|, |n|, 1e-8) that is pass "
                        "<= 2e-7, fail > 2e-2; steps chosen per entry (the handout's h is 1e-5)"),
}


def preset(convention: Convention | str) -> tuple[float, float, float]:
    """``(pass_tol, fail_tol, floor)`` of ``convention``."""
    return PRESETS[Convention(convention)]


def rule_text(convention: Convention | str) -> str:
    """The one line that says which rule is applied."""
    return RULES[Convention(convention)]
