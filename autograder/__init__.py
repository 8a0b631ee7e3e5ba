"""dl-autograder: auto-graded deep-learning exercises with hidden suites and a sandboxed worker."""

__version__ = "0.1.0"
