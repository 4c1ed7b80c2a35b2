"""cnnbook: the helpers every chapter of the course imports.

One module per idea, in the order the book introduces them:

- `conv` (chapter 1): convolution three ways and its backward pass; `layers` (chapter 2): pooling, ReLU,
  dropout, fully connected, with their backward passes.
- `data`: real digits (MNIST, embedded or opt-in download); `photos`: photographs and faces shipped inside
  scikit-image; `tasks`: synthetic tasks built from them, where the answer is known by construction.
- `train` (chapter 3): seeds, the one training loop `fit`, evaluation; `measure`: the book's one convention
  for measured values (`≈ x`, asserted in a band); `regularise` (chapter 3b): validation splits, subsets,
  augmentation; `recipes`: the trained models several chapters share.
- `models/`: every network, in plain `torch.nn`, one file per family (networks never import training or
  data); `profile`: what a network costs (parameters, MACs) and how its gradients flow.
- `features` (chapter 4): what channels respond to; `rf/` (chapter 5): receptive fields, exact (`calculator`) and measured;
  `cam` (chapter 6): class activation maps and their scores.
- `nas` (chapter 7c): architecture search under a step budget; `equivariance`: shift tests (chapter 7c);
  `signals` (chapter 8): convolution beyond 2-D images and in the frequency domain.
- `viz/` draws every figure (one file per subject) and `widgets` the interactive explorers: the only
  modules that draw.
- Coursework: `checks` (what students' test cells import), `course` (the instructor's command line,
  `python -m cnnbook.grading`), `recording` (test cells that record values; scoring them outside the
  student's process), `scan` (static checks of submissions), `sandbox` (bubblewrap around each
  submission's kernel); `grading` keeps the documented entry point.
- Private: `_validate` (argument checks with teaching messages), `_files` (atomic, bounded file handling).

Nothing here downloads or writes anything at import time.
"""

__version__ = "0.1.0"
