"""`python -m os1` runs the command line."""

import sys

from os1.cli import main

sys.exit(main())
