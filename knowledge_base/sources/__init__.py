"""Where refresh jobs find datasets: a folder of tables (``folder``) or OpenML (``openml``).

Both only read; the refresh job (``automl.refresh``) cleans, evaluates and writes. Importing this
package does not import ``openml`` (the OpenML source imports it on use).
"""
from .folder import Problem, SourceError, TableSource, discover, read_table

__all__ = ["discover", "read_table", "TableSource", "Problem", "SourceError"]
