"""`python -m autograder` is the same program as `autograder`."""

import sys

from autograder.cli import main

sys.exit(main())
