"""`python -m cnnbook.course …`: the course command line (see `cnnbook.course.commands`)."""

import sys

from .commands import main

sys.exit(main())
