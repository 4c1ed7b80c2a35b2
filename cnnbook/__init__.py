"""cnnbook: the helpers every chapter of the course imports.

One module per idea, in the order the book introduces them:
`conv` (chapter 1), `layers`, `data`, `train`, `models`, `viz` (chapters 2-4), `rf` (chapter 5),
`cam` (chapter 6), `nas` (chapter 7's architecture search), `widgets` (the interactive explorers) and `grading` (course assignments).
Nothing here downloads or writes anything at import time.
"""

__version__ = "0.1.0"
