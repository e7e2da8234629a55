"""Pipeline steps as choices of the search space: one module per slot, one ``register`` line per step.

A user step is a ``Step`` registered like a family (``STEPS.register(Step(...))``; its ``build`` a module-level
function so worker processes can import it); every family taking its slot (and passing ``families`` /
``needs_imputed``) then offers it. LightGBM takes the ``text`` slot only: its native categorical handling and NaN
splits are its fixed preprocessing.
"""
from . import categorical, construction, missing, numeric, selection, text
from ._step import NONE, OPTIONAL, SLOTS, STEPS, WHOLE_SLOT, Step, describe, step_params, unused_slots, uses_any

for _step in (missing.MEDIAN, missing.CONSTANT, categorical.ONEHOT, categorical.ORDINAL, categorical.TARGET,
              numeric.STANDARD, numeric.ROBUST, numeric.QUANTILE, numeric.YEO_JOHNSON,
              selection.PERCENTILE, selection.L1, selection.TREE_IMPORTANCE,
              construction.PCA_STEP, construction.NYSTROEM, construction.SPLINES,
              text.TFIDF_SVD, text.TEXT_CATEGORIES, text.DROP_TEXT):
    STEPS.register(_step)
STEPS.mark_builtin()

__all__ = ["NONE", "OPTIONAL", "SLOTS", "STEPS", "WHOLE_SLOT", "Step", "describe", "step_params", "unused_slots",
           "uses_any"]
