"""Figure data (``automl.report.data``): pure functions from trials, predictions and tables to plain dicts
and DataFrames, one module per subject.

Nothing here draws or trains. Every function tolerates what older models and models without a search
history lack (missing keys, missing times, no trials at all): it returns empty data, and the renderers
and the HTML say so instead of failing.
"""
from __future__ import annotations

from ._kb_data import SIZE_BUCKETS, kb_overview, metafeature_map, size_bucket, winning_families, wins_table
from ._prediction_data import (calibration_data, confusion_data, encode_labels, permutation_importance,
                               residuals_data)
from ._trial_data import (ORIGINS, TRIAL_COLUMNS, UNKNOWN_ORIGIN, anytime_curve, config_summary, ensemble_members,
                          family_score_points, family_scores, leaderboard_frame, neighbours_frame, origin_colour,
                          origin_label, trials_frame, warm_start_trials)

__all__ = ["ORIGINS", "SIZE_BUCKETS", "TRIAL_COLUMNS", "UNKNOWN_ORIGIN", "anytime_curve", "calibration_data",
           "config_summary", "confusion_data", "encode_labels", "ensemble_members", "family_score_points",
           "family_scores", "kb_overview", "leaderboard_frame", "metafeature_map", "neighbours_frame",
           "origin_colour", "origin_label", "permutation_importance", "residuals_data", "size_bucket",
           "trials_frame", "warm_start_trials", "winning_families", "wins_table"]
