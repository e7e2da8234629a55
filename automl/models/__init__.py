"""Model families and their registry. Order matters: it is the order of the default portfolio."""
from . import (catboost_family, forest_families, knn_family, lightgbm_family, linear_family, mlp_family, svm_family,
               xgboost_family)
from .registry import REGISTRY, Family, Registry
from .upgrade import upgrade_config, upgrade_tables

for _family in (lightgbm_family.FAMILY, linear_family.FAMILY, forest_families.EXTRA_TREES,
                forest_families.RANDOM_FOREST, knn_family.FAMILY, mlp_family.FAMILY, svm_family.FAMILY):
    REGISTRY.register(_family)
for _optional in (catboost_family, xgboost_family):  # ``pip install automl-meta[boost]``
    REGISTRY.register_if_installed(_optional.FAMILY, _optional.PACKAGE, "boost")
REGISTRY.mark_builtin()


__all__ = ["REGISTRY", "Family", "Registry", "upgrade_config", "upgrade_tables"]
