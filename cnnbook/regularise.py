"""Deprecated: `cnnbook.regularise` was split by what it holds. Kept for one release.

class_subset, validation_split -> `cnnbook.splits`; move, shift_rotate -> `cnnbook.augmentation`;
tiny_cnn -> `cnnbook.models` (file models/mnist.py).
"""

import warnings

# stacklevel=1: the warning belongs to this module, so Python's default filters keep it out of notebooks (whose
# outputs nbval compares) while pytest and `python -W default` show it.

from .augmentation import move, shift_rotate
from .models import tiny_cnn
from .splits import class_subset, validation_split

__all__ = ["class_subset", "validation_split", "move", "shift_rotate", "tiny_cnn"]

warnings.warn("cnnbook.regularise is deprecated: import class_subset, validation_split from cnnbook.splits; "
              "move, shift_rotate from cnnbook.augmentation; tiny_cnn from cnnbook.models.",
              DeprecationWarning, stacklevel=1)
