"""cnnbook.explorers (the data of the book's in-browser explorers) and the book's mime renderer, without a browser.

tests/test_browser_explorers.py drives the explorers themselves in Chromium and compares them with torch."""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path

import pytest
import torch

from cnnbook import conv, explorers, rf
from cnnbook.cam import cam, grad_cam
from cnnbook.models import GAPNet

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "book" / "_static" / "explorers.js"


def test_quantise_round_trip_is_within_half_a_step():
    values = torch.randn(7, 9, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    packed = explorers.quantise(values)
    back = explorers.dequantise(packed)
    assert packed["shape"] == [7, 9] and back.shape == (7, 9)
    assert (back - values).abs().max() <= explorers.step(packed) / 2 + 1e-12
    assert back.min() == values.min() and abs(back.max() - values.max()) < 1e-12  # the range's ends are exact
    flat = explorers.dequantise(explorers.quantise(torch.full((2, 3), 0.25)))
    assert torch.equal(flat, torch.full((2, 3), 0.25, dtype=torch.float64))


def test_convolution_payload_stores_the_images_and_the_chapter_kernels():
    digit = torch.arange(28 * 28, dtype=torch.float32).reshape(28, 28) % 256 / 255
    payload = explorers.convolution_payload({"digit": digit}, conv.classic_kernels())
    assert payload["kind"] == "convolution" and payload["labels"] == explorers.LABELS
    stored = explorers.dequantise(payload["data"]["images"]["digit"])
    assert (stored - digit.double()).abs().max() < 1e-6  # k/255 pixels survive uint8 exactly
    for name, k in conv.classic_kernels().items():
        assert torch.equal(torch.tensor(payload["data"]["kernels"][name]), k.double())
    assert json.loads(json.dumps(payload)) == payload  # plain JSON, nothing a browser could not read


def test_receptive_field_payload_support_equals_recurrence_and_calculator():
    payload = explorers.receptive_field_payload(depths=(1, 3), kernels=(3, 5), strides=(1, 2), dilations=(1, 2),
                                                n_inits=1, n_inputs=1)
    settings = payload["data"]["settings"]
    assert len(settings) == 16
    for key, s in settings.items():
        depth, k, stride, d = map(int, key.split(","))
        r = explorers.field_size(depth, k, stride, d)
        calculator = rf.receptive_field(explorers.chain(depth, k, stride, d), r + 4 * stride ** depth).size[0]
        assert s["measured"] == r == calculator, key
        assert s["map"]["shape"] == [r + 4, r + 4] and s["box"] == [2, r + 1], key
        heat = explorers.dequantise(s["map"])
        assert heat.max() == 1 and heat[:2].abs().max() == 0 and heat[:, -2:].abs().max() == 0  # zero outside


def test_cam_payload_maps_are_cnnbook_maps_within_half_a_step():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = GAPNet().eval()
    x = torch.rand(2, 1, 20, 20, generator=torch.Generator().manual_seed(1))
    layers = {"last": model.features[-1], "inner": model.features[10]}
    payload = explorers.cam_payload(model, x, x[:, 0], torch.tensor([3, 4]), layers, true_boxes=torch.tensor([[1, 2, 9, 12]] * 2))
    maps = payload["data"]["maps"]
    assert set(maps) == {"CAM last", "Grad-CAM last", "Grad-CAM inner"} and len(maps["CAM last"]) == 2
    for image in range(2):
        for c in (0, 7):
            expected = {"CAM last": cam(model, x[image:image + 1], c)[0].relu(),
                        "Grad-CAM last": grad_cam(model, layers["last"], x[image:image + 1], c)[0],
                        "Grad-CAM inner": grad_cam(model, layers["inner"], x[image:image + 1], c)[0]}
            for name, m in expected.items():
                stored = maps[name][image][c]
                assert stored["shape"] == [5, 5]
                assert (explorers.dequantise(stored) - m).abs().max() <= explorers.step(stored) / 2 + 1e-6, name
    probs = torch.tensor(payload["data"]["probs"])
    assert torch.allclose(probs, model(x).softmax(1), atol=1e-4)


def test_explorer_bundle_has_its_mime_type_and_a_text_fallback():
    payload = explorers.convolution_payload({"one": torch.zeros(3, 3)}, {"identity": torch.eye(1)})
    bundle = explorers.Explorer(payload)._repr_mimebundle_()
    assert bundle[explorers.MIME_TYPE] is payload
    assert "HTML book" in bundle["text/plain"] and "JupyterLab" in bundle["text/plain"]
    big = explorers.convolution_payload({"big": torch.rand(600, 600)}, {"identity": torch.eye(1)})
    with pytest.raises(ValueError, match="over the budget.*smaller grid"):
        explorers.Explorer(big)


def test_every_label_the_script_uses_is_in_the_one_table_and_none_is_unused():
    script = SCRIPT.read_text()
    used = set(re.findall(r"""\bL\(\s*"(\w+)"\s*[,)]""", script))
    used |= set(re.findall(r'shell\(node, payload, "(\w+)"\)', script))
    used |= {key for key, _ in re.findall(r'\["(\w+)", "(depths|kernels|strides|dilations)"\]', script)}
    used |= set(re.findall(r'"(\w+)"', re.search(r"SLIDERS = \[([^\]]*)\]", script).group(1)))
    assert used - set(explorers.LABELS) == set(), f"labels missing from explorers.LABELS: {used - set(explorers.LABELS)}"
    assert set(explorers.LABELS) - used == set(), f"labels no script uses: {set(explorers.LABELS) - used}"
    assert "fetch(" not in script and "XMLHttpRequest" not in script and "http" not in script.replace("https://", "")


@pytest.mark.parametrize("call, error, fix", [
    (lambda: explorers.quantise(torch.tensor([[float("nan")]])), ValueError, "nan_to_num"),
    (lambda: explorers.quantise(torch.zeros(3)), ValueError, r"\(H, W\)"),
    (lambda: explorers.dequantise({"shape": [1]}), ValueError, "quantise"),
    (lambda: explorers.convolution_payload({"x": torch.full((3, 3), 2.0)}, {"k": torch.eye(3)}), ValueError, "photo"),
    (lambda: explorers.convolution_payload({"x": torch.zeros(3, 3)}, {"k": torch.ones(9, 9)}), ValueError, "7×7"),
    (lambda: explorers.convolution_payload({"x": torch.zeros(3, 3)}, {"k": torch.eye(3, dtype=torch.int64)}),
     TypeError, r"\.float\(\)"),
    (lambda: explorers.convolution_payload({}, {"k": torch.eye(3)}), ValueError, "digit"),
    (lambda: explorers.convolution_payload({"x": torch.zeros(3, 3)}, {"k": torch.eye(3)}, "a b"), ValueError, "HTML id"),
    (lambda: explorers.chain(0, 3), ValueError, "depth"),
    (lambda: explorers.receptive_field_payload(depths=()), ValueError, "depths=\\(1, 2\\)"),
    (lambda: explorers.cam_payload(GAPNet().eval(), torch.rand(2, 1, 8, 8), torch.rand(3, 8, 8), torch.tensor([1, 2]),
                                   {"last": torch.nn.ReLU()}), ValueError, "same N, H, W"),
    (lambda: explorers.Explorer({"kind": "plot"}), ValueError, "cam_payload"),
])
def test_invalid_input_says_what_to_do(call, error, fix):
    with pytest.raises(error, match=fix):
        call()


@pytest.fixture
def renderer(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "book" / "_ext"))
    import explorers_render
    yield explorers_render
    sys.modules.pop("explorers_render", None)


def test_mime_renderer_writes_inert_json_markup_for_its_mime_type_only(renderer):
    payload = explorers.convolution_payload({"x": torch.zeros(2, 2)}, {"</script><b>&": torch.eye(1)})
    data = types.SimpleNamespace(mime_type=explorers.MIME_TYPE, content=payload)
    (node,) = renderer.ExplorerRenderer.handle_mime(None, data, False)
    markup = node.astext()
    assert markup.startswith('<div class="cnnbook-explorer" id="cnnbook-explorer-conv" data-kind="convolution">')
    inner = re.search(r'<script type="application/json" class="cnnbook-explorer-data">(.*)</script></div>$', markup).group(1)
    assert "</" not in inner and "<b>" not in inner and json.loads(inner) == payload
    assert renderer.ExplorerRenderer.handle_mime(None, data, True) is None  # inline: not an explorer
    other = types.SimpleNamespace(mime_type="text/plain", content="x")
    assert renderer.ExplorerRenderer.handle_mime(None, other, False) is None
    assert renderer.MIME_TYPE == explorers.MIME_TYPE


def test_mime_renderer_is_found_by_myst_nb_and_wins_over_the_text_fallback(renderer):
    from myst_nb.core import render

    renderer._register_plugin()
    renderer._register_plugin()  # twice: still one plugin
    assert sum(p is renderer.ExplorerRenderer for p in render.load_mime_renders()) == 1
    for builder in ("html", "singlehtml"):
        priority = render.get_mime_priority(builder, [])
        assert priority.index(explorers.MIME_TYPE) < min(priority.index("text/plain"), priority.index("image/png"))
    assert explorers.MIME_TYPE not in render.get_mime_priority("latex", [])
