"""Compatibility module: the schema and its migrations live in ``knowledge_base._schema``."""
from ._schema import APP_MARKER, DDL_CURRENT, DDL_V1, MIGRATIONS, SCHEMA_VERSION, TABLES

__all__ = ["SCHEMA_VERSION", "APP_MARKER", "DDL_V1", "DDL_CURRENT", "MIGRATIONS", "TABLES"]
