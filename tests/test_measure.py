"""cnnbook.measure: the marked form of measured values, and the band it asserts."""

import re
from pathlib import Path

import pytest
import torch

from cnnbook.measure import approx, mean_and_spread

SANITIZE = Path(__file__).with_name("nbval_sanitize.cfg").read_text(encoding="utf-8")


def test_approx_prints_one_run_in_the_marked_form():
    assert approx(97.43, band=(96, 99), unit="%") == "≈ 97.4 %"
    assert approx(0.19412, band=(0.1, 0.3), digits=3) == "≈ 0.194"
    assert approx(torch.tensor(-0.04), band=(-1, 1), digits=2) == "≈ -0.04"


def test_approx_prints_mean_and_sample_standard_deviation_over_seeds():
    # mean 2, sample std sqrt(((1)^2 + 0 + 1^2) / 2) = 1
    assert approx([1.0, 2.0, 3.0], band=(1.5, 2.5)) == "≈ 2.0 ± 1.0"
    assert mean_and_spread([1.0, 2.0, 3.0]) == (2.0, 1.0)


def test_approx_refuses_a_value_outside_its_band_and_names_both():
    with pytest.raises(AssertionError, match=r"95\.000 lies outside the stated band \[96, 99\] %"):
        approx(95.0, band=(96, 99), unit="%")
    with pytest.raises(AssertionError, match="mean"):
        approx([90.0, 91.0, 92.0], band=(96, 99))


@pytest.mark.parametrize("bad, error, hint", [
    (dict(value=float("nan"), band=(0, 1)), ValueError, "finite"),
    (dict(value="97", band=(0, 100)), TypeError, "number"),
    (dict(value=1.0, band=(2, 1)), ValueError, "swap"),
    (dict(value=1.0, band=5), TypeError, "pair"),
    (dict(value=1.0, band=(0, 2), digits=-1), ValueError, "digits"),
    (dict(value=[1.0], band=(0, 2)), ValueError, "at least two"),
])
def test_approx_rejects_bad_input_with_a_message_that_says_what_was_expected(bad, error, hint):
    with pytest.raises(error, match=hint):
        approx(**bad)


def test_the_sanitize_file_masks_exactly_the_marked_form():
    rules = re.findall(r"^regex: (.*)\nreplace: (.*)$", SANITIZE, flags=re.M)
    marked = [(r, s) for r, s in rules if "≈" in r]
    assert len(marked) == 1, "the convention has exactly one sanitize pattern"
    regex, replace = marked[0]

    def mask(text):
        return re.sub(regex, replace, text)

    # two machines, two values, one masked text — in a sentence, in a left-aligned table, in a glue repr
    assert mask("test accuracy " + approx(97.4, (96, 99), "%")) == mask("test accuracy " + approx(96.8, (96, 99), "%"))
    assert mask(f"{approx([9.5, 9.6, 9.7], (9, 11)):<16}| x") == mask(f"{approx([10.5, 10.6, 10.4], (9, 11)):<16}| x")
    assert mask(repr(approx(0.5, (0, 1), digits=3))) == mask(repr(approx(0.25, (0, 1), digits=3)))
    # ...and nothing else: plain numbers stay compared
    assert mask("accuracy 97.4 %") != mask("accuracy 96.8 %")
