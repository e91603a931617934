"""Offline generator of competition-style problems with exactly computed answers.

Used by the embedded (CPU, smoke) profile where no hub data can be downloaded, and to check the
contamination step against known planted near-duplicates. Families: counting, number theory,
algebra, combinatorics, probability (reduced fractions); difficulty levels 1-5.
"""

from ssdlib.data.synthetic.core import Family, frac_tex, params_key, poly_tex
from ssdlib.data.synthetic.counting import count_no_run
from ssdlib.data.synthetic.generate import (
    FAMILIES,
    FAMILY_BY_NAME,
    LEVELS,
    PLANTED_KINDS,
    generate_problems,
    make_pools,
)

__all__ = [
    "FAMILIES",
    "FAMILY_BY_NAME",
    "LEVELS",
    "PLANTED_KINDS",
    "Family",
    "count_no_run",
    "frac_tex",
    "generate_problems",
    "make_pools",
    "params_key",
    "poly_tex",
]
