"""The test suite. A package, so each test module is named by its path (tests.graph.test_bench and
tests.llm.test_bench can both exist) and helpers are imported as tests.helpers, tests.stand_in_data."""
