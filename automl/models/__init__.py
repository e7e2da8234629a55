"""Model families and their registry. Order matters: it is the order of the default portfolio."""
from . import forest_families, knn_family, lightgbm_family, linear_family, mlp_family, svm_family
from .registry import REGISTRY, Family, Registry

for _family in (lightgbm_family.FAMILY, linear_family.FAMILY, forest_families.EXTRA_TREES,
                forest_families.RANDOM_FOREST, knn_family.FAMILY, mlp_family.FAMILY, svm_family.FAMILY):
    REGISTRY.register(_family)
REGISTRY.mark_builtin()


def upgrade_config(config: dict, task: str | None) -> dict | None:
    """``config`` (of this space version or version 1) as a canonical configuration of this version for
    ``task``: the family's ``upgrade`` translates values whose meaning changed (it leaves a current
    configuration unchanged), inactive parameters are dropped. None for a family not registered."""
    key = config.get("family")
    if key not in REGISTRY:
        return None
    family = REGISTRY.get(key)
    if family.upgrade is not None:
        config = family.upgrade(config, task)
    return family.complete(config, task)


__all__ = ["REGISTRY", "Family", "Registry", "upgrade_config"]
