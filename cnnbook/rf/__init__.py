"""Receptive fields: how much of the input one output unit can see (chapter 5).

`calculator`: the exact field of every layer, from the layers themselves (the recurrence, traced with
`torch.fx`); `measured`: the same field found by gradients, and the effective field. Import everything from
`cnnbook.rf`.
"""

from .calculator import ReceptiveField, ReceptiveFieldWarning, receptive_field, output_size
from .measured import EmpiricalField, EffectiveField, empirical_receptive_field, effective_receptive_field, positive_twin

__all__ = ['ReceptiveField', 'EmpiricalField', 'EffectiveField', 'ReceptiveFieldWarning', 'receptive_field', 'empirical_receptive_field', 'effective_receptive_field', 'output_size', 'positive_twin']
