"""Engineering allocation by theme: where effort really goes, against the plan.

Modules in the order data flows through them: :mod:`.config` (parameters), :mod:`.sources`
(tracker exports), :mod:`.inputs` (worklogs, people, targets, rules), :mod:`.themes` (rules → themes),
:mod:`.capacity` and :mod:`.effort` (units, person-months), :mod:`.shares`, :mod:`.targets`,
:mod:`.trends`, :mod:`.concentration`, :mod:`.cost`, :mod:`.estimates`, :mod:`.pipeline`
(all of it in one call) and :mod:`.plots`.
"""

from .concentration import Concentration, compute_concentration
from .config import (
    UNIT_LABELS,
    AllocationParams,
    ItemSource,
    Rule,
    Sources,
    StatusBands,
    TableSource,
    ThemeRules,
)
from .cost import CostByTheme, cost_by_theme
from .effort import Effort, measure_effort
from .estimates import EstimateAccuracy, estimate_vs_actual
from .inputs import (
    AllocationInputs,
    load_inputs,
    load_people,
    load_rules,
    load_targets,
    load_worklogs,
)
from .pipeline import Allocation, analyse, run_allocation
from .shares import ORGANISATION, EffortShare, effort_share
from .sources import TRACKERS, WorkItems, load_items
from .targets import TargetComparison, compare_to_targets, status_for
from .themes import Classification, classify
from .trends import Trends, compute_trends

__all__ = [
    "ORGANISATION",
    "TRACKERS",
    "UNIT_LABELS",
    "Allocation",
    "AllocationInputs",
    "AllocationParams",
    "Classification",
    "Concentration",
    "CostByTheme",
    "Effort",
    "EffortShare",
    "EstimateAccuracy",
    "ItemSource",
    "Rule",
    "Sources",
    "StatusBands",
    "TableSource",
    "TargetComparison",
    "ThemeRules",
    "Trends",
    "WorkItems",
    "analyse",
    "classify",
    "compare_to_targets",
    "compute_concentration",
    "compute_trends",
    "cost_by_theme",
    "effort_share",
    "estimate_vs_actual",
    "load_inputs",
    "load_items",
    "load_people",
    "load_rules",
    "load_targets",
    "load_worklogs",
    "measure_effort",
    "run_allocation",
    "status_for",
]
