"""The package itself: `import cnnbook` is light and gives lazy access to its modules (PEP 562); the renamed
modules keep deprecation aliases for one release."""

import importlib
import subprocess
import sys

import pytest


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_import_cnnbook_loads_no_submodule_and_attribute_access_loads_one():
    code = ("import sys, cnnbook; before = sorted(m for m in sys.modules if m.startswith('cnnbook.') or m == 'torch'); "
            "conv = cnnbook.conv; print(before, conv.__name__, 'cnnbook.course' in sys.modules)")
    assert _run(code) == "[] cnnbook.conv False"


def test_every_listed_module_is_reachable_and_unknown_names_say_what_exists():
    import cnnbook

    for name in ("anatomy", "augmentation", "conv", "splits", "train", "rf", "models"):
        assert getattr(cnnbook, name) is importlib.import_module(f"cnnbook.{name}")
        assert name in dir(cnnbook)
    with pytest.raises(AttributeError, match="its modules are anatomy"):
        cnnbook.no_such_module


@pytest.mark.parametrize("old, new, names", [
    ("cnnbook.profile", "cnnbook.anatomy", ["summary", "conv_gradient_norms", "ModelSummary"]),
    ("cnnbook.regularise", "cnnbook.splits", ["class_subset", "validation_split"]),
    ("cnnbook.regularise", "cnnbook.augmentation", ["move", "shift_rotate"]),
    ("cnnbook.regularise", "cnnbook.models", ["tiny_cnn"]),
    ("cnnbook.models.beyond", "cnnbook.models.clips", ["ClipNet"]),
    ("cnnbook.models.beyond", "cnnbook.models.fourier", ["FourierConv2d", "ShiftNet"]),
])
def test_old_module_paths_still_work_and_warn_once_with_the_new_one(old, new, names):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        module = importlib.import_module(old)
    target = importlib.import_module(new)
    assert all(getattr(module, name) is getattr(target, name) for name in names)
