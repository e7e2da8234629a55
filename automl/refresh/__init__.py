"""Knowledge-base refresh jobs: datasets from a folder or from OpenML -> meta-features, evaluations, write-back.

For every dataset: load and clean it exactly as ``automl fit`` does, fingerprint it, and skip it when the
store already holds it for the current meta-feature version with every candidate of the pool evaluated
under the current search-space version on at least the rows asked for (``max_rows``). A stored dataset that
lacks some candidates (the pool grew) or holds them on fewer rows (a larger ``max_rows``) gets only those
evaluated, on the rows asked for (no new search; the protocol says the size). A new one: compute the
meta-features (on all rows), evaluate the common candidate pool at full fidelity with the search's own trial
function, run a short real search, and write everything in one ``store.record_run`` transaction. From OpenML,
the dataset's qualities and, optionally, prior runs of mappable flows are written too.

Made for cron: resumable and idempotent (skips by content fingerprint + versions; deterministic run ids),
one broken dataset is reported and skipped, ``RefreshSummary.failed`` tells the caller whether to exit
non-zero. Library code logs to ``automl.refresh`` and reports progress through ``callback(event: dict)``.

Modules, by job: ``options`` (what a job is asked, what it reports), ``candidates`` (the pool),
``openml_flows`` (OpenML runs and qualities onto ours), ``datasets`` (sources, cleaning, subsampling),
``evaluate`` (the worker side), ``pool`` (where evaluations run), ``records`` (what is written),
``index`` (what the store holds), ``portfolio`` (the rebuild at the end), ``job`` (the loop, entry points).
"""
from knowledge_base.canonical import config_id

from .candidates import CANDIDATE_EXTRA_SAMPLES, candidates_document, load_candidates, portfolio_candidates
from .datasets import subsample_rows
from .evaluate import evaluate_dataset
from .index import store_tables
from .job import RESIZE_NOTE, TOP_UP_NOTE, refresh_from_dir, refresh_from_openml
from .openml_flows import map_openml_run, openml_flow_family
from .options import DatasetOutcome, RefreshOptions, RefreshSummary
from .portfolio import rebuild_portfolio

__all__ = ["RefreshOptions", "RefreshSummary", "DatasetOutcome", "refresh_from_dir", "refresh_from_openml",
           "rebuild_portfolio", "portfolio_candidates", "load_candidates", "candidates_document",
           "map_openml_run", "openml_flow_family", "evaluate_dataset", "subsample_rows", "store_tables",
           "CANDIDATE_EXTRA_SAMPLES", "TOP_UP_NOTE", "RESIZE_NOTE", "config_id"]
