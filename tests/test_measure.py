"""cnnbook.measure: the marked form of measured values, the band it asserts, and computed verdicts."""

import re
from pathlib import Path

import pytest
import torch
from scipy import stats

from cnnbook.measure import MAX_BAND_SPREADS, approx, around, compare, mean_and_spread

SANITIZE = Path(__file__).with_name("nbval_sanitize.cfg").read_text(encoding="utf-8")


def mask(text: str) -> str:
    rules = re.findall(r"^regex: (.*)\nreplace: (.*)$", SANITIZE, flags=re.M)
    marked = [(r, s) for r, s in rules if "≈" in r]
    assert len(marked) == 1, "the convention has exactly one sanitize pattern"
    return re.sub(marked[0][0], marked[0][1], text)


def test_approx_prints_one_run_in_the_marked_form():
    assert approx(97.43, claim=(96, 99), unit="%") == "≈ 97.4 %"
    assert approx(0.19412, band=(0.15, 0.25), spread=0.01, digits=3) == "≈ 0.194"
    assert approx(torch.tensor(-0.04), claim=(None, 0), digits=2) == "≈ -0.04"


def test_approx_prints_mean_and_sample_standard_deviation_over_seeds():
    # mean 2, sample std sqrt(((1)^2 + 0 + 1^2) / 2) = 1
    assert approx([1.0, 2.0, 3.0], band=(1.5, 2.5), spread=1.0) == "≈ 2.0 ± 1.0"
    assert mean_and_spread([1.0, 2.0, 3.0]) == (2.0, 1.0)


def test_approx_refuses_a_value_outside_its_band_and_names_both():
    with pytest.raises(AssertionError, match=r"95\.000 lies outside the claimed range \[96, 99\] %"):
        approx(95.0, claim=(96, 99), unit="%")
    with pytest.raises(AssertionError, match="mean .* stated band"):
        approx([90.0, 91.0, 92.0], band=(96, 99), spread=1.0)


def test_a_one_sided_claim_checks_only_its_side():
    assert approx(99.9, claim=(90, None), unit="%") == "≈ 99.9 %"
    with pytest.raises(AssertionError):
        approx(89.9, claim=(90, None))
    with pytest.raises(AssertionError):
        approx(0.5, claim=(None, 0.4))


def test_a_band_wider_than_ten_recorded_spreads_is_refused_because_it_could_not_fail():
    assert approx([14.5, 14.7, 14.9], band=(13.7, 15.7), spread=0.2) == "≈ 14.7 ± 0.2"   # 2.0 = 10 spreads
    with pytest.raises(ValueError, match=f"more than {MAX_BAND_SPREADS} × the recorded spread 0.2"):
        approx([14.5, 14.7, 14.9], band=(8, 20), spread=0.2)     # the 03b band of issue 23


@pytest.mark.parametrize("bad, error, hint", [
    (dict(value=float("nan"), claim=(0, 1)), ValueError, "finite"),
    (dict(value="97", claim=(0, 100)), TypeError, "number"),
    (dict(value=1.0, claim=(2, 1)), ValueError, "swap"),
    (dict(value=1.0, band=5, spread=1), TypeError, "pair"),
    (dict(value=1.0, claim=(0, 2), digits=-1), TypeError, "digits"),
    (dict(value=[1.0], claim=(0, 2)), ValueError, "at least two"),
    (dict(value=1.0, band=(0, 2)), ValueError, "needs spread="),
    (dict(value=1.0), ValueError, "exactly one of claim"),
    (dict(value=1.0, band=(0, 2), claim=(0, 2)), ValueError, "exactly one of claim"),
    (dict(value=1.0, claim=(0, 2), spread=1), ValueError, "spread= goes with band="),
    (dict(value=1.0, band=(0, 2), spread=0), ValueError, "spread must be > 0"),
    (dict(value=1.0, claim=(None, None)), TypeError, "at most one side None"),
])
def test_approx_rejects_bad_input_with_a_message_that_says_what_was_expected(bad, error, hint):
    with pytest.raises(error, match=hint):
        approx(**bad)


def test_paired_interval_is_student_t_on_the_differences():
    a, b = [90.0, 91.5, 92.0, 93.0, 94.5], [88.0, 88.5, 90.5, 91.0, 92.0]
    c = compare(a, b, ("SE", "plain"))
    d = [x - y for x, y in zip(a, b)]
    mean, sd = mean_and_spread(d)
    half = stats.t.ppf(0.975, 4) * sd / 5 ** 0.5
    assert c.difference == pytest.approx(mean) and c.half_width == pytest.approx(half)
    ref = stats.ttest_rel(a, b).confidence_interval(0.95)
    assert (c.low, c.high) == pytest.approx((ref.low, ref.high))


def test_unpaired_interval_is_welch():
    a, b = [1.0, 2.0, 4.0, 3.5], [0.0, 0.5, 1.0]
    c = compare(a, b, paired=False)
    ref = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (c.low, c.high) == pytest.approx((ref.low, ref.high))
    assert not c.paired and "Welch t" in str(c)


def test_verdict_words_follow_the_interval():
    assert compare([5.0, 6, 7], [1.0, 2, 3.1], ("A", "B")).verdict == "A higher"
    assert compare([1.0, 2, 3.1], [5.0, 6, 7], ("A", "B")).verdict == "B higher"
    assert compare([1.0, 3, 2], [2.0, 1, 3], ("A", "B")).verdict == "not resolved with 3 seeds"
    assert compare([1.0, 1.1, 1.05], [1.02, 1.08, 1.04], margin=0.5).verdict == "equivalent within ±0.5"


def test_expect_asserts_the_verdict_with_margin_and_prints_every_number_in_marked_form():
    c = compare([92.0, 93.1, 92.5, 93.4, 92.2], [90.0, 90.9, 90.7, 91.2, 90.1], ("dropout", "baseline"),
                unit="points")
    line = c.expect("higher")
    assert line.startswith("dropout − baseline ≈ +2.1 points, 95 % CI ≈ [+1.9, +2.3]")
    assert line.endswith("(5 seeds, paired t): dropout higher")
    with pytest.raises(AssertionError, match="the text needs 'baseline higher'"):
        c.expect("lower")
    weak = compare([1.0, 1.6, 1.4, 1.2, 1.9], [0.5, 0.4, 1.3, 0.6, 1.0])        # interval excludes 0, but only just
    assert weak.verdict == "A higher" and abs(weak.difference) < 2 * weak.half_width
    with pytest.raises(AssertionError, match="with margin"):
        weak.expect("higher")


def test_resolution_asserts_the_width_not_the_outcome():
    c = compare([90.3, 86.0, 94.6], [89.2, 85.6, 92.8], ("SE", "plain"), unit="points")
    line = c.resolution(at_most=10)
    assert "resolves effects beyond ≈ ±" in line and "higher" not in line and "not resolved" not in line
    with pytest.raises(AssertionError, match="half-width"):
        c.resolution(at_most=0.1)


@pytest.mark.parametrize("call, error, hint", [
    (lambda: compare([1.0, 2.0, 3.0], [1.0, 2.0]), ValueError, "paired=False"),
    (lambda: compare([1.0], [1.0], paired=False), ValueError, "at least two"),
    (lambda: compare(1.0, [1.0, 2.0]), TypeError, "one per seed"),
    (lambda: compare([1.0, 2.0], [1.0, 2.0], margin=-1), ValueError, "margin must be > 0"),
    (lambda: compare([1.0, 2.0], [1.0, 2.0], names="AB"), TypeError, "pair of strings"),
    (lambda: compare([1.0, 2.0], [1.5, 2.5]).expect("equivalent"), ValueError, "needs the margin"),
    (lambda: compare([1.0, 2.0], [1.5, 2.5]).expect("better"), ValueError, "resolution"),
])
def test_compare_rejects_bad_input_with_the_fix(call, error, hint):
    with pytest.raises(error, match=hint):
        call()


def test_the_sanitize_file_masks_exactly_the_marked_form():
    # two machines, two values, one masked text — in a sentence, in a left-aligned table, in a glue repr
    assert mask("accuracy " + approx(97.4, claim=(96, 99), unit="%")) == mask("accuracy " + approx(96.8, claim=(96, 99), unit="%"))
    assert mask(f"{approx([9.5, 9.6, 9.7], claim=(9, 11)):<16}| x") == mask(f"{approx([10.5, 10.6, 10.4], claim=(9, 11)):<16}| x")
    assert mask(repr(approx(0.5, claim=(0, 1), digits=3))) == mask(repr(approx(0.25, claim=(0, 1), digits=3)))
    # signed differences, intervals and resolutions, as compare prints them
    one = compare([5.0, 6, 7], [1.0, 2, 3.1], ("A", "B"), unit="points")
    two = compare([5.5, 6.1, 7.7], [1.0, 2.2, 3.0], ("A", "B"), unit="points")
    assert str(one) != str(two) and mask(str(one)) == mask(str(two))
    assert mask(one.resolution(10)) == mask(two.resolution(10))
    assert mask("≈ -0.4 and ≈ +0.4") == mask("≈ +1.2 and ≈ -3.0")
    # ...and nothing else: plain numbers and the verdict word stay compared
    assert mask("accuracy 97.4 %") != mask("accuracy 96.8 %")
    assert mask(str(one)) != mask(str(compare([1.0, 2, 3.1], [5.0, 6, 7], ("A", "B"), unit="points")))


def test_around_is_a_band_nine_spreads_wide_that_approx_accepts():
    assert around(97.6, 0.8) == pytest.approx((94.0, 101.2))
    assert approx([97.0, 97.5, 98.1], band=around(97.6, 0.8), spread=0.8, unit="%") == "≈ 97.5 ± 0.6 %"
    with pytest.raises(ValueError, match="spreads <= 5"):
        around(97.6, 0.8, spreads=6)
    with pytest.raises(ValueError, match="spread > 0"):
        around(97.6, 0.0)
