"""03's tests of the seeds' own claims about decoding, declared in the params before the data.

The seeds conclude that ``general`` beats ``precise`` and that the presence penalty helps
(``general`` vs ``general_no_pp``). Each claim is a paired t test on per-prompt accuracy over the
prompts both decodes were run on, per budget (val300 and val are never pooled), with Holm over
the claims of one budget -- the same machinery as 06's verdict (:mod:`ssdlib.verdict.contrasts`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ssdlib.verdict.contrasts import contrast_table


def findings_table(
    graded: pd.DataFrame,
    names: dict[str, str],
    findings: Sequence[tuple[str, str]],
    *,
    budget: str,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """One row per declared (challenger, reference) on one budget's graded rows.

    ``names``: decode name -> config_id. Columns as :data:`ssdlib.verdict.contrasts.COLUMNS`, with
    ``tier`` = "03 finding" and ``prompt_set`` = ``budget``; ``contrast`` reads
    ``"<challenger> vs <reference>"``.
    """
    arms, rows = {}, []
    for challenger, reference in findings:
        for name in (challenger, reference):
            if name not in names:
                raise ValueError(
                    f"finding {challenger} vs {reference}: 03 has no decode named {name!r}"
                )
            arms[name] = graded[graded["config_id"] == names[name]]
        rows.append((f"{challenger} vs {reference}", challenger, reference))
    return contrast_table(arms, rows, tier="03 finding", prompt_set=budget, alpha=alpha)
