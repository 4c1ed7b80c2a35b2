"""Figures: one small function per kind of figure; notebooks pass data, not styling.

Every function draws with matplotlib, labels its axes, uses perceptually uniform colormaps
(viridis/cividis for intensities, RdBu centred at 0 for signed values) and returns the figure.
Call them as `cnnbook.viz.<name>`; they live in one file per subject, in the book's order:
`images` (chapters 1, 2, 4), `training` (3, 3b, 7), `fields` (5), `cam` (6, 6b).
"""

from .images import show_matrix, plot_conv, image_grid, kernels_grid, feature_maps_grid, plot_pooling, plot_kernel_responses
from .training import training_curves, plot_confusion_matrix, plot_prediction, plot_lines, plot_excitations, plot_trajectories, plot_seed_bars, plot_mean_and_spread
from .fields import plot_gradient_support, plot_effective_fields, plot_field_on_image
from .cam import plot_cam_grid, plot_threshold_sensitivity, plot_deletion_curves

__all__ = ['show_matrix', 'plot_conv', 'image_grid', 'kernels_grid', 'feature_maps_grid', 'plot_pooling', 'plot_kernel_responses', 'training_curves', 'plot_confusion_matrix', 'plot_prediction', 'plot_lines', 'plot_excitations', 'plot_trajectories', 'plot_seed_bars', 'plot_mean_and_spread', 'plot_gradient_support', 'plot_effective_fields', 'plot_field_on_image', 'plot_cam_grid', 'plot_threshold_sensitivity', 'plot_deletion_curves']
