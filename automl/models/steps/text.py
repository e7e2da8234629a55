"""Free text (columns of kind ``text``: ``automl.data.TEXT_DTYPE`` columns of the cleaned table): TF-IDF of word
n-grams reduced by truncated SVD (the default), the most frequent values as a category (what such a column was
before it was read as text), or dropped.

The step is the pipeline's first stage (``TextColumns``): it replaces each text column by what its encoder makes of
it and passes every other column untouched, so the later stages see numbers and categories only; a table without
text passes through as it is.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

from ...data import MAX_CATEGORIES, as_categories, frequent_values, text_columns
from ...space import Categorical, Int
from ._step import Step


class TextColumns(TransformerMixin, BaseEstimator):
    """Each text column of a cleaned table replaced by what a clone of ``encoder`` (a one-column transformer:
    ``fit(texts)``, ``transform(texts) -> DataFrame``) makes of it, in place; ``encoder`` None drops them. Other
    columns pass untouched; without text columns ``transform`` returns its input itself."""

    def __init__(self, encoder=None) -> None:
        self.encoder = encoder

    def fit(self, X: pd.DataFrame, y=None) -> "TextColumns":
        self.columns_ = text_columns(X)
        self.encoders_ = {} if self.encoder is None else {c: clone(self.encoder).fit(X[c]) for c in self.columns_}
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        if not self.columns_:
            return X
        parts = []
        for column in X.columns:
            if column in self.encoders_:
                parts.append(self.encoders_[column].transform(X[column]))
            elif column not in self.columns_:
                parts.append(X[column])
        return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=X.index)


def _documents(texts: pd.Series) -> np.ndarray:
    return texts.fillna("").to_numpy(dtype=object)


class TfidfSvd(TransformerMixin, BaseEstimator):
    """One text column as ``n_components`` SVD components of its TF-IDF (word 1- to ``ngram_max``-grams, the
    ``max_features`` most frequent terms, sublinear term frequency): columns ``<name>__svd<i>``. A vocabulary no
    larger than ``n_components`` is kept as it is (columns ``<name>__tfidf<i>``), an empty one gives no column.
    Words never seen in training are ignored at predict time."""

    def __init__(self, max_features: int = 5000, n_components: int = 64, ngram_max: int = 2, seed: int = 0) -> None:
        self.max_features = max_features
        self.n_components = n_components
        self.ngram_max = ngram_max
        self.seed = seed

    def fit(self, texts: pd.Series, y=None) -> "TfidfSvd":
        self.vectorizer_ = TfidfVectorizer(ngram_range=(1, self.ngram_max), max_features=self.max_features,
                                           sublinear_tf=True, dtype=np.float64)
        try:
            tfidf = self.vectorizer_.fit_transform(_documents(texts))
        except ValueError:  # no word in any row (every value missing, or only one-letter tokens)
            self.vectorizer_, self.svd_ = None, None
            return self
        self.vectorizer_.stop_words_ = None  # the terms cut by max_features: introspection only, large when pickled
        k = min(self.n_components, tfidf.shape[0] - 1)
        self.svd_ = None
        if tfidf.shape[1] > self.n_components and k >= 1:
            self.svd_ = TruncatedSVD(k, random_state=self.seed).fit(tfidf)
        return self

    def transform(self, texts: pd.Series) -> pd.DataFrame:
        if self.vectorizer_ is None:
            return pd.DataFrame(index=texts.index)
        tfidf = self.vectorizer_.transform(_documents(texts))
        values, label = (self.svd_.transform(tfidf), "svd") if self.svd_ is not None else (tfidf.toarray(), "tfidf")
        return pd.DataFrame(values, index=texts.index, columns=[f"{texts.name}__{label}{i}"
                                                                  for i in range(values.shape[1])])


class TextCategories(TransformerMixin, BaseEstimator):
    """One text column as a category of its ``max_categories`` most frequent values, every other value
    ``automl.data.OTHER``: what the table encoder made of such a column before it was read as text."""

    def __init__(self, max_categories: int = MAX_CATEGORIES) -> None:
        self.max_categories = max_categories

    def fit(self, texts: pd.Series, y=None) -> "TextCategories":
        self.categories_ = frequent_values(texts.dropna(), self.max_categories)
        return self

    def transform(self, texts: pd.Series) -> pd.DataFrame:
        return pd.DataFrame({texts.name: as_categories(texts, self.categories_)}, index=texts.index)


def _tfidf_svd(params, task, seed):
    return TextColumns(TfidfSvd(max_features=params["max_features"], n_components=params["n_components"],
                                ngram_max=params["ngram_max"], seed=seed))


def _text_categories(params, task, seed):
    return TextColumns(TextCategories())


def _drop(params, task, seed):
    return TextColumns(None)


SLOT = "text"
TFIDF_SVD = Step("tfidf_svd", SLOT, _tfidf_svd, (Int("max_features", 500, 20_000, 5000, log=True),
                                                Int("n_components", 8, 256, 64, log=True),
                                                Categorical("ngram_max", (1, 2), 2)))
TEXT_CATEGORIES = Step("text_categories", SLOT, _text_categories)
DROP_TEXT = Step("drop_text", SLOT, _drop)
