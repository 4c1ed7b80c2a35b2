"""The formula sheet (book/formulas.md): every worked example on it is recomputed here.

Each example sits under a `% check: <expression>` comment (a MyST comment: not shown in the book). The test
evaluates every such expression with torch and cnnbook, so a formula or example that drifts from the code fails.
"""

import re
from pathlib import Path

import pytest
import torch

import cnnbook.conv
import cnnbook.layers
import cnnbook.models
import cnnbook.anatomy
import cnnbook.rf

PAGE = Path(__file__).resolve().parents[1] / "book" / "formulas.md"
CHECKS = re.findall(r"^% check: (.+)$", PAGE.read_text(encoding="utf-8"), flags=re.M)


def cnnbook_sgd_two_steps() -> float:
    """w after two steps of torch's SGD (lr 0.1, momentum 0.9) from w = 1 with a constant gradient of 1."""
    w = torch.tensor([1.0], requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.1, momentum=0.9)
    for _ in range(2):
        opt.zero_grad()
        w.sum().backward()
        opt.step()
    return w.item()


def cnnbook_adam_one_step() -> float:
    """w after one step of torch's Adam (lr 0.1) from w = 1 with gradient 3."""
    w = torch.tensor([1.0], requires_grad=True)
    opt = torch.optim.Adam([w], lr=0.1)
    (3 * w).sum().backward()
    opt.step()
    return w.item()


def cnnbook_gradcam_ratio(size: int) -> float:
    """CAM / Grad-CAM on a GAP + linear head over random positive feature maps of size × size."""
    torch.manual_seed(0)
    maps = torch.rand(1, 4, size, size, requires_grad=True)
    linear = torch.nn.Linear(4, 3)
    score = linear(maps.mean(dim=(2, 3)))[0, 1]
    (grad,) = torch.autograd.grad(score, maps)
    grad_cam = torch.relu((grad.mean(dim=(2, 3), keepdim=True) * maps).sum(1))
    cam = torch.relu((linear.weight[1].view(1, 4, 1, 1) * maps).sum(1))
    mask = grad_cam > 1e-6
    return round((cam[mask] / grad_cam[mask]).mean().item(), 3)


def test_the_sheet_has_a_check_for_every_formula():
    formulas = len(re.findall(r"^\$\$$", PAGE.read_text(encoding="utf-8"), flags=re.M)) // 2
    assert formulas >= 10 and len(CHECKS) >= formulas, (formulas, len(CHECKS))


@pytest.mark.parametrize("expression", CHECKS)
def test_worked_example_on_the_formula_sheet_holds(expression):
    namespace = {"torch": torch, "cnnbook": cnnbook, "cnnbook_sgd_two_steps": cnnbook_sgd_two_steps,
                 "cnnbook_adam_one_step": cnnbook_adam_one_step, "cnnbook_gradcam_ratio": cnnbook_gradcam_ratio}
    assert eval(expression, namespace) is True, expression  # noqa: S307 - our own page, not user input
