"""Load a table, validate it, infer the task, and clean features into what the search consumes.

The cleaned table has float64, pandas ``category`` and (free text) ``TEXT_DTYPE`` columns only (see
docs/architecture.md, "Cleaned data").
``loading`` reads files, ``target`` separates and encodes the target and infers the task, ``column_plan`` decides
what each input column becomes, ``column_values`` applies that to its values, ``table_encoder`` holds
``TableEncoder``, which learns the plans on the training data and applies exactly the same plans at predict time.
"""
from .column_plan import MAX_CATEGORIES, NUMBER_SHARE, OTHER, TEXT_MIN_WORDS, ColumnPlan, frequent_values, word_counts
from .column_values import TEXT_DTYPE, as_categories, text_columns
from .loading import load_table
from .table_encoder import TableEncoder
from .target import (MAX_MULTICLASS_INTEGER_LEVELS, MIN_ROWS, Target, check_rows, class_codes, class_labels,
                     drop_missing_target, encode_target, encode_target_as, infer_task, numeric_target, shown_columns,
                     split_target)

__all__ = ["MAX_CATEGORIES", "MAX_MULTICLASS_INTEGER_LEVELS", "MIN_ROWS", "NUMBER_SHARE", "OTHER", "TEXT_DTYPE",
           "TEXT_MIN_WORDS", "ColumnPlan", "TableEncoder", "Target", "as_categories", "check_rows", "class_codes",
           "class_labels", "drop_missing_target", "encode_target", "encode_target_as", "frequent_values",
           "infer_task", "load_table", "numeric_target", "shown_columns", "split_target", "text_columns",
           "word_counts"]
