"""The book's explorers in a real browser (Debian's Chromium via Playwright), offline: what each page computes
is compared with torch / cnnbook computed here.

The built book is the one tests/test_browser_book.py builds (its fixtures are reused, so no second build);
the data each explorer shows is read from the stored output of its chapter notebook. Per explorer a grid of
settings is driven through the labelled controls:
- convolution (chapter 1): 2 images × 3 kernels (two of the chapter's, one typed) × stride {1, 3} × padding
  {0, 2} × dilation {1, 3}, and the reader's own image, against F.conv2d in float64, to 1e-5;
- receptive field (chapter 5): every setting of the stored grid, the recurrence the page computes against
  `cnnbook.rf.receptive_field` of the same network and against the notebook's measured support, exactly;
- CAM (chapter 6): every stored image × 3 classes × 3 maps, the page's upsampled map against F.interpolate
  (bilinear, align_corners=False) of the stored map, within one quantisation step.
Screenshots go to _build/screenshots/explorer-*.png.
"""

from __future__ import annotations

import json
import re

import pytest
import torch
import torch.nn.functional as F

from browser_support import ROOT
from cnnbook import explorers, rf
from test_browser_book import SCREENSHOTS, offline, server  # noqa: F401  (the built book, served)

PAGES = {"conv": "notebooks/01_convolution", "rf": "notebooks/05_receptive_fields", "cam": "notebooks/06_cam"}
EMBEDDED = re.compile(r'<script type="application/json" class="cnnbook-explorer-data">(.*?)</script>', re.S)
L = explorers.LABELS


def stored_payload(explorer_id: str) -> dict:
    """The payload the chapter notebook stored (what the book embeds)."""
    nb = json.loads((ROOT / f"{PAGES[explorer_id]}.ipynb").read_text())
    found = [o["data"][explorers.MIME_TYPE] for c in nb["cells"] if c["cell_type"] == "code"
             for o in c.get("outputs", []) if explorers.MIME_TYPE in o.get("data", {})]
    assert len(found) == 1, f"{PAGES[explorer_id]} should store exactly one explorer output, found {len(found)}"
    return found[0]


def open_explorer(offline, server, explorer_id):  # noqa: F811
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = offline.new_page()
    page.goto(f"{server}{PAGES[explorer_id]}.html", wait_until="load")
    page.wait_for_selector(f"#cnnbook-explorer-{explorer_id}[data-ready]", timeout=20_000)
    return page, page.locator(f"#cnnbook-explorer-{explorer_id}")


def finish(page, offline, what: str, result: str) -> None:  # noqa: F811
    """No console error and no request off the machine while the explorer ran; print what was checked."""
    assert not offline.console_errors and not offline.blocked, (offline.console_errors, offline.blocked)
    print(f"{what}: {result}")
    page.close()


def state(page, explorer_id):
    return page.evaluate(f"window.cnnbookExplorers[{explorer_id!r}].state()")


def test_explorer_data_fits_the_budget_and_the_script_comes_only_where_needed(book_html):  # noqa: F811
    sizes = {}
    for explorer_id, name in PAGES.items():
        page = (book_html / f"{name}.html").read_text()
        blobs = EMBEDDED.findall(page)
        assert len(blobs) == 1, f"{name}.html should embed one explorer, found {len(blobs)}"
        sizes[name] = sum(len(b.encode()) for b in blobs)
        assert sizes[name] <= explorers.BUDGET_BYTES, f"{name}: {sizes[name]:,} bytes of explorer data"
        assert json.loads(blobs[0]) == stored_payload(explorer_id)  # the page holds what the notebook stored
        assert "_static/explorers.js" in page and "_static/explorers.css" in page
    intro = (book_html / "book" / "intro.html").read_text()
    assert "explorers.js" not in intro and "cnnbook-explorer" not in intro
    assert (book_html / "_static" / "explorers.js").stat().st_size < 30_000  # a few KB, no library
    print("explorer data per page:", ", ".join(f"{k.split('/')[-1]}: {v:,} bytes" for k, v in sizes.items()))


def test_convolution_explorer_computes_what_f_conv2d_computes(offline, server, tmp_path):  # noqa: F811
    page, root = open_explorer(offline, server, "conv")
    payload = stored_payload("conv")
    controls = {key: root.get_by_role(role, name=L[key], exact=True) for key, role in
                (("image", "combobox"), ("kernel", "combobox"), ("stride", "slider"), ("padding", "slider"),
                 ("dilation", "slider"))}
    typed = root.get_by_label(L["typed_kernel"], exact=True)
    worst, checked = 0.0, 0

    def check(expected_image=None):
        nonlocal worst, checked
        s = state(page, "conv")
        x = torch.tensor(s["input"], dtype=torch.float64).reshape(s["h"], s["w"])
        if expected_image is not None:
            assert torch.allclose(x, expected_image, atol=1e-12, rtol=0)
        y = F.conv2d(x[None, None], torch.tensor(s["kernel"], dtype=torch.float64)[None, None], stride=s["stride"],
                     padding=s["padding"], dilation=s["dilation"])[0, 0]
        assert (s["oh"], s["ow"]) == tuple(y.shape), s["formula"]
        got = torch.tensor(s["output"], dtype=torch.float64).reshape(y.shape)
        worst = max(worst, (got - y).abs().max().item())
        checked += 1
        return s, y

    for image_name, packed in payload["data"]["images"].items():
        controls["image"].select_option(image_name)
        image = explorers.dequantise(packed)
        for kernel in ("vertical edge", "box blur", "1 2 -1; 0 0.5 3"):
            if kernel in payload["data"]["kernels"]:
                controls["kernel"].select_option(kernel)
            else:
                typed.fill(kernel)
            for stride in (1, 3):
                controls["stride"].fill(str(stride))
                for padding in (0, 2):
                    controls["padding"].fill(str(padding))
                    for dilation in (1, 3):
                        controls["dilation"].fill(str(dilation))
                        s, _ = check(image)
                        assert (s["stride"], s["padding"], s["dilation"]) == (stride, padding, dilation)
    assert checked == 48 and worst <= 1e-5, f"largest difference to F.conv2d: {worst}"

    # pointing at an output pixel, and the keyboard: the window's sum is the output value
    controls["image"].select_option("digit")
    controls["kernel"].select_option("Sobel x")
    controls["padding"].fill("1")
    root.get_by_role("img", name=L["output_map"]).hover(position={"x": 60, "y": 90})
    s, y = check()
    i, j = s["selected"]
    assert s["window"].endswith(f"= {y[i, j].item():.4f}")
    canvas = root.get_by_role("img", name=L["output_map"])
    canvas.focus()
    for key in ("ArrowRight", "ArrowRight", "ArrowDown"):
        page.keyboard.press(key)
    assert state(page, "conv")["selected"] == [i + 1, j + 2]
    root.screenshot(path=str(SCREENSHOTS / "explorer-convolution.png"))

    # a typed kernel that is not one is refused with a message, and the last good kernel stays
    typed.fill("1 x; 2 3")
    s = state(page, "conv")
    assert L["kernel_number"].format(t="x") in s["message"] and s["kernel"] == [[1, 0, -1], [2, 0, -2], [1, 0, -1]]

    # the reader's own image, read on the page: shorter side 64, and the same arithmetic as torch
    from PIL import Image
    gradient = torch.linspace(0, 255, 40).repeat(30, 1)
    rgb = torch.stack([gradient, gradient.flip(1), torch.full_like(gradient, 90)], dim=-1).to(torch.uint8).numpy()
    png = tmp_path / "mine.png"
    Image.fromarray(rgb).save(png)
    root.get_by_label(L["own_image"], exact=True).set_input_files(str(png))
    page.wait_for_function("window.cnnbookExplorers.conv.state().image !== 'digit'", timeout=10_000)
    typed.fill("0 1 0; 1 -4 1; 0 1 0")
    s, _ = check()
    assert s["image"] == L["own_image_name"] and (s["h"], s["w"]) == (64, 85)
    finish(page, offline, "convolution", f"{checked} settings, largest |page − F.conv2d| = {worst:.1e}")


def test_receptive_field_explorer_recurrence_is_exactly_the_calculators(offline, server):  # noqa: F811
    page, root = open_explorer(offline, server, "rf")
    data = stored_payload("rf")["data"]
    controls = {key: root.get_by_label(L[label], exact=True) for label, key in
                (("depth", "depth"), ("rf_kernel", "kernel"), ("stride", "stride"), ("dilation", "dilation"))}
    for key, s in data["settings"].items():
        depth, kernel, stride, dilation = map(int, key.split(","))
        for name, value in zip(controls, (depth, kernel, stride, dilation)):
            controls[name].select_option(str(value))
        shown = state(page, "rf")
        net = explorers.chain(depth, kernel, stride, dilation)
        calculator = rf.receptive_field(net, shown["field"] + 4 * stride ** depth)
        assert shown["field"] == calculator.size[0] == s["measured"], key
        assert shown["jump"] == calculator.jump[0]
        per_layer = [rf.receptive_field(explorers.chain(d, kernel, stride, dilation), shown["field"]).size[0]
                     for d in range(1, depth + 1)]
        assert [row["r"] for row in shown["layers"]] == per_layer, key
        assert shown["mapShape"] == s["map"]["shape"]
        if key == "3,3,2,2":
            root.screenshot(path=str(SCREENSHOTS / "explorer-receptive-field.png"))
    finish(page, offline, "receptive field",
           f"{len(data['settings'])} settings, recurrence == calculator == gradient support on all")


def test_cam_explorer_overlay_is_f_interpolate_of_the_stored_maps(offline, server):  # noqa: F811
    page, root = open_explorer(offline, server, "cam")
    data = stored_payload("cam")["data"]
    controls = {key: root.get_by_label(L[key], exact=True) for key in ("test_image", "target", "method", "layer")}
    worst, checked = 0.0, 0
    for n, label in enumerate(data["labels"]):
        controls["test_image"].select_option(str(n))
        predicted = max(range(len(data["probs"][n])), key=lambda c: data["probs"][n][c])
        for target, c in (("predicted", predicted), (str(label), label), (str((label + 1) % 10), (label + 1) % 10)):
            controls["target"].select_option(target)
            for method, layer in (("CAM", "last"), ("Grad-CAM", "last"), ("Grad-CAM", "inner")):
                controls["method"].select_option(method)
                if method == "Grad-CAM":
                    controls["layer"].select_option(layer)
                s = state(page, "cam")
                assert (s["image"], s["target"], s["key"]) == (n, c, f"{method} {layer}")
                stored = data["maps"][s["key"]][n][c]
                m = explorers.dequantise(stored)
                assert torch.allclose(torch.tensor(s["map"], dtype=torch.float64).reshape(m.shape), m, atol=1e-12, rtol=0)
                up = F.interpolate(m[None, None], size=tuple(s["size"]), mode="bilinear", align_corners=False)[0, 0]
                diff = (torch.tensor(s["overlay"], dtype=torch.float64).reshape(up.shape) - up).abs().max().item()
                assert diff <= explorers.step(stored), (s["key"], n, c, diff)
                worst = max(worst, diff / explorers.step(stored) if explorers.step(stored) else 0)
                checked += 1
                if method == "CAM":
                    assert controls["layer"].locator("option[value='inner']").is_disabled()
    assert checked == 9 * len(data["labels"])
    controls["test_image"].select_option("0")
    controls["target"].select_option("predicted")
    controls["method"].select_option("CAM")
    root.get_by_label(L["opacity"], exact=True).fill("0.8")
    s = state(page, "cam")
    assert s["opacity"] == 0.8 and data["scores"]["CAM last"]["box"] in s["score"]
    root.screenshot(path=str(SCREENSHOTS / "explorer-cam.png"))
    finish(page, offline, "CAM", f"{checked} settings, largest |page − F.interpolate| = {worst:.1e} quantisation steps")


@pytest.mark.parametrize("explorer_id", list(PAGES))
def test_explorer_is_labelled_keyboard_operable_and_replaced_by_the_figure_in_print(offline, server, explorer_id):  # noqa: F811
    page, root = open_explorer(offline, server, explorer_id)
    unlabelled = root.evaluate("""r => [...r.querySelectorAll('input, select')]
        .filter(e => !e.labels.length || !e.labels[0].textContent.trim() || e.tabIndex < 0 || e.disabled)
        .map(e => e.outerHTML.slice(0, 80))""")
    assert not unlabelled, f"controls without a label or out of the tab order: {unlabelled}"
    texts = root.evaluate("r => [...r.querySelectorAll('label')].map(l => l.textContent)")
    assert set(texts) <= set(explorers.LABELS.values())  # every label from the one table
    root.locator("select, input").first.focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('.cnnbook-explorer') !== null")
    page.emulate_media(media="print")
    assert root.evaluate("r => getComputedStyle(r).display") == "none"
    figure = page.evaluate("""id => { const cells = [...document.querySelectorAll('div.cell')];
        const at = cells.findIndex(c => c.querySelector('#cnnbook-explorer-' + id));
        const img = cells.slice(0, at).reverse().map(c => c.querySelector('img')).find(i => i);
        return img && getComputedStyle(img).display !== 'none' && img.naturalWidth > 0; }""", explorer_id)
    assert figure, "the static figure before the explorer is not shown in print"
    page.emulate_media(media="screen")
    finish(page, offline, explorer_id, "labelled, keyboard operable, hidden in print")
