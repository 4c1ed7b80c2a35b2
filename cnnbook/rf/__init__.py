"""Receptive fields: how much of the input one output unit can see (chapter 5).

`calculator`: the exact field of every layer, from the layers themselves (the recurrence, traced with
`torch.fx`); `measured`: the same field found by gradients, and the effective field. Import everything from
`cnnbook.rf`. `output_size` is `cnnbook.conv.output_size` (the one formula), re-exported here.
"""

from ..conv import output_size
from .calculator import ReceptiveField, ReceptiveFieldWarning, receptive_field, step
from .measured import EffectiveField, EmpiricalField, effective_receptive_field, empirical_receptive_field, positive_twin

__all__ = ["ReceptiveField", "EmpiricalField", "EffectiveField", "ReceptiveFieldWarning", "receptive_field",
           "empirical_receptive_field", "effective_receptive_field", "output_size", "positive_twin", "step"]
