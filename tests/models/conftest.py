from tests.search.conftest import faulty_family  # noqa: F401  (the test-only family fixture)
