/* cnnbook explorers: convolution, receptive field and CAM, computed in the reader's browser, offline.
 *
 * Each <div class="cnnbook-explorer"> written by book/_ext/explorers_render.py holds its payload (made by
 * cnnbook.explorers) as JSON. This script builds native, labelled controls for it and computes live: the
 * convolution (torch's conventions: cross-correlation, zero padding), the receptive-field recurrence, and the
 * bilinear upsampling of class maps (F.interpolate, align_corners=False). Every word comes from the payload's
 * label table. Nothing is fetched; the reader's own image is read from the file they pick and stays here.
 * window.cnnbookExplorers[id].state() returns what an explorer shows now (the tests compare it with torch).
 */
(function () {
  "use strict";
  var registry = (window.cnnbookExplorers = window.cnnbookExplorers || {});
  var VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  var uid = 0;

  function fmt(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (m, k) { return k in values ? String(values[k]) : m; });
  }

  function decode(a) { // quantised array -> {h, w, v}: lo + q (hi - lo) / 255
    var bin = atob(a.data), v = new Float64Array(bin.length), unit = (a.hi - a.lo) / 255;
    for (var i = 0; i < bin.length; i++) v[i] = a.lo + bin.charCodeAt(i) * unit;
    return { h: a.shape[0], w: a.shape[1], v: v };
  }

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") e.textContent = attrs[k]; else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { e.appendChild(c); });
    return e;
  }

  function labelled(root, text, input) { // a native control with its <label>
    input.id = root.id + "-c" + (++uid);
    return el("span", { class: "cnnbook-field" }, [el("label", { for: input.id, text: text }), input]);
  }

  function select(options, value) { // options: [[value, text], ...]
    var s = el("select");
    options.forEach(function (o) {
      var opt = el("option", { value: String(o[0]), text: o[1] });
      if (String(o[0]) === String(value)) opt.selected = true;
      s.appendChild(opt);
    });
    return s;
  }

  function range(min, max, stepSize, value) {
    return el("input", { type: "range", min: min, max: max, step: stepSize, value: value });
  }

  function withValue(field, input) { // shows a slider's value next to it
    var out = el("output", { for: input.id, text: input.value });
    input.addEventListener("input", function () { out.textContent = input.value; });
    field.appendChild(out);
    return field;
  }

  function mix(stops, t) {
    t = Math.min(1, Math.max(0, t));
    var x = t * (stops.length - 1), i = Math.min(stops.length - 2, Math.floor(x)), f = x - i;
    return [0, 1, 2].map(function (c) { return Math.round(stops[i][c] + f * (stops[i + 1][c] - stops[i][c])); });
  }

  function grey(v) { var g = Math.round(255 * Math.min(1, Math.max(0, v))); return [g, g, g]; }

  function signed(scale) { // RdBu: blue negative, white 0, red positive
    return function (v) {
      var t = scale > 0 ? v / scale : 0;
      return t >= 0 ? mix([[247, 247, 247], [178, 24, 43]], t) : mix([[247, 247, 247], [33, 102, 172]], -t);
    };
  }

  function zoomFor(h, w, size) { return Math.max(1, Math.min(16, Math.floor(size / Math.max(h, w)))); }

  function paint(canvas, img, colour, zoom, alpha) { // img: {h, w, v}; draws at zoom, pixels kept sharp
    var off = document.createElement("canvas");
    off.width = img.w; off.height = img.h;
    var octx = off.getContext("2d"), data = octx.createImageData(img.w, img.h);
    for (var i = 0; i < img.h * img.w; i++) {
      var c = colour(img.v[i], i);
      data.data[4 * i] = c[0]; data.data[4 * i + 1] = c[1]; data.data[4 * i + 2] = c[2];
      data.data[4 * i + 3] = c.length > 3 ? c[3] : 255;
    }
    octx.putImageData(data, 0, 0);
    if (!alpha) { canvas.width = img.w * zoom; canvas.height = img.h * zoom; }
    var ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(off, 0, 0, img.w * zoom, img.h * zoom);
    return ctx;
  }

  function box(ctx, x0, y0, x1, y1, colour, dashed, width) {
    ctx.save();
    ctx.strokeStyle = colour; ctx.lineWidth = width || 2;
    if (dashed) ctx.setLineDash([5, 4]);
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    ctx.restore();
  }

  function shell(node, payload, titleKey) {
    var L = function (key, values) { return fmt(payload.labels[key], values || {}); };
    node.textContent = "";
    var title = el("p", { class: "cnnbook-explorer-title", id: node.id + "-title" }, [el("strong", { text: L(titleKey) })]);
    node.setAttribute("role", "group");
    node.setAttribute("aria-labelledby", title.id);
    node.appendChild(title);
    return L;
  }

  // ------------------------------------------------------------------------------------------ convolution
  function conv2d(x, k, s, p, d) { // torch.nn.functional.conv2d on one channel: cross-correlation, zeros outside
    var kh = k.length, kw = k[0].length;
    var oh = Math.floor((x.h + 2 * p - d * (kh - 1) - 1) / s) + 1, ow = Math.floor((x.w + 2 * p - d * (kw - 1) - 1) / s) + 1;
    if (oh < 1 || ow < 1) return null;
    var y = new Float64Array(oh * ow);
    for (var i = 0; i < oh; i++) {
      for (var j = 0; j < ow; j++) {
        var acc = 0;
        for (var u = 0; u < kh; u++) {
          var r = i * s - p + u * d;
          if (r < 0 || r >= x.h) continue;
          for (var v = 0; v < kw; v++) {
            var c = j * s - p + v * d;
            if (c >= 0 && c < x.w) acc += x.v[r * x.w + c] * k[u][v];
          }
        }
        y[i * ow + j] = acc;
      }
    }
    return { h: oh, w: ow, v: y };
  }

  function parseKernel(text, L, maxSide) { // "1 0 -1; 1 0 -1" -> [[1, 0, -1], [1, 0, -1]] or {error}
    var rows = text.split(/[;\n]/).map(function (r) { return r.trim(); }).filter(function (r) { return r; });
    var k = [];
    for (var i = 0; i < rows.length; i++) {
      var row = [], parts = rows[i].split(/[\s,]+/);
      for (var j = 0; j < parts.length; j++) {
        var t = parts[j], n = Number(t);
        if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t) || !isFinite(n)) return { error: L("kernel_number", { t: t }) };
        row.push(n);
      }
      k.push(row);
    }
    if (!k.length || k.length > maxSide || k[0].length > maxSide) return { error: L("kernel_size", { m: maxSide }) };
    for (i = 1; i < k.length; i++) if (k[i].length !== k[0].length) return { error: L("kernel_rows") };
    return { kernel: k };
  }

  function buildConvolution(node, payload) {
    var L = shell(node, payload, "conv_title"), data = payload.data;
    var images = {};
    Object.keys(data.images).forEach(function (name) { images[name] = decode(data.images[name]); });
    var names = Object.keys(images), kernels = data.kernels, kernelNames = Object.keys(kernels);
    var imageSel = select(names.map(function (n) { return [n, n]; }), names[0]);
    var file = el("input", { type: "file", accept: "image/*" });
    var kernelSel = select(kernelNames.map(function (n) { return [n, n]; }).concat([["", L("typed")]]), kernelNames[0]);
    var typed = el("input", { type: "text", size: "28", value: kernels[kernelNames[0]].map(function (r) { return r.join(" "); }).join("; ") });
    var sliders = {}, SLIDERS = ["stride", "padding", "dilation"]; // payload keys, and label keys
    SLIDERS.forEach(function (key) {
      sliders[key] = range(data[key][0], data[key][1], 1, data[key][0]);
    });
    var controls = el("div", { class: "cnnbook-controls" }, [labelled(node, L("image"), imageSel), labelled(node, L("own_image"), file),
      labelled(node, L("kernel"), kernelSel), labelled(node, L("typed_kernel"), typed)]);
    var sliderRow = el("div", { class: "cnnbook-controls" });
    SLIDERS.forEach(function (key) {
      sliderRow.appendChild(withValue(labelled(node, L(key), sliders[key]), sliders[key]));
    });
    var message = el("p", { class: "cnnbook-message", role: "status" });
    var kernelTable = el("table", { class: "cnnbook-kernel" });
    var inCanvas = el("canvas", { role: "img" }), outCanvas = el("canvas", { role: "img", tabindex: "0", "aria-label": L("output_map") });
    var inCap = el("figcaption"), outCap = el("figcaption"), formula = el("p", { class: "cnnbook-formula" });
    var windowText = el("p", { class: "cnnbook-window", "aria-live": "polite" });
    var pictures = el("div", { class: "cnnbook-pictures" }, [el("figure", {}, [inCanvas, inCap]), kernelTable,
      el("figure", {}, [outCanvas, outCap])]);
    [controls, sliderRow, message, pictures, formula, windowText].forEach(function (e) { node.appendChild(e); });

    var st = { kernel: kernels[kernelNames[0]], y: null, selected: null, zin: 1, zout: 1 };

    function settings() {
      return { s: +sliders.stride.value, p: +sliders.padding.value, d: +sliders.dilation.value };
    }

    function drawKernel() {
      kernelTable.textContent = "";
      kernelTable.setAttribute("aria-label", L("kernel"));
      st.kernel.forEach(function (row) {
        kernelTable.appendChild(el("tr", {}, row.map(function (v) { return el("td", { text: String(+v.toFixed(3)) }); })));
      });
    }

    function drawInput() { // the padded input; the real image framed
      var x = images[imageSel.value], o = settings(), p = o.p;
      var padded = { h: x.h + 2 * p, w: x.w + 2 * p, v: new Float64Array((x.h + 2 * p) * (x.w + 2 * p)) };
      for (var r = 0; r < x.h; r++) for (var c = 0; c < x.w; c++) padded.v[(r + p) * padded.w + c + p] = x.v[r * x.w + c];
      st.zin = zoomFor(padded.h, padded.w, 260);
      var ctx = paint(inCanvas, padded, grey, st.zin);
      if (p) box(ctx, p * st.zin, p * st.zin, (p + x.w) * st.zin, (p + x.h) * st.zin, "#f0a030", true, 1);
      inCanvas.setAttribute("aria-label", L("input_caption", { h: x.h, w: x.w }));
      inCap.textContent = L("input_caption", { h: x.h, w: x.w });
      return ctx;
    }

    function update() {
      var x = images[imageSel.value], o = settings(), k = st.kernel;
      var axes = [[L("rows"), x.h, k.length], [L("columns"), x.w, k[0].length]];
      st.y = conv2d(x, k, o.s, o.p, o.d);
      drawKernel();
      drawInput();
      formula.textContent = axes.map(function (a) {
        var n = a[1], kk = a[2], size = Math.floor((n + 2 * o.p - o.d * (kk - 1) - 1) / o.s) + 1;
        return size >= 1 ? L("size_formula", { axis: a[0], n: n, p: o.p, d: o.d, k: kk, s: o.s, o: size })
          : L("too_small", { axis: a[0], n: n, p: o.p, d: o.d, k: kk });
      }).join(" · ");
      if (!st.y) {
        outCanvas.width = outCanvas.height = 0; outCap.textContent = ""; windowText.textContent = ""; st.selected = null;
        return;
      }
      var scale = 0;
      for (var i = 0; i < st.y.v.length; i++) scale = Math.max(scale, Math.abs(st.y.v[i]));
      st.zout = zoomFor(st.y.h, st.y.w, 260);
      paint(outCanvas, st.y, signed(scale), st.zout);
      outCap.textContent = L("output_caption", { h: st.y.h, w: st.y.w });
      if (st.selected && (st.selected[0] >= st.y.h || st.selected[1] >= st.y.w)) st.selected = null;
      if (st.selected) choose(st.selected[0], st.selected[1]);
      else windowText.textContent = "";
    }

    function choose(i, j) { // outline output (i, j) and the input window it read; say the sum
      if (!st.y) return;
      i = Math.max(0, Math.min(st.y.h - 1, i)); j = Math.max(0, Math.min(st.y.w - 1, j));
      st.selected = [i, j];
      var x = images[imageSel.value], o = settings(), k = st.kernel, terms = [], ctx = drawInput();
      var scale = 0;
      for (var n = 0; n < st.y.v.length; n++) scale = Math.max(scale, Math.abs(st.y.v[n]));
      var octx = paint(outCanvas, st.y, signed(scale), st.zout);
      box(octx, j * st.zout, i * st.zout, (j + 1) * st.zout, (i + 1) * st.zout, "#000", false, 2);
      for (var u = 0; u < k.length; u++) {
        for (var v = 0; v < k[0].length; v++) {
          var r = i * o.s - o.p + u * o.d, c = j * o.s - o.p + v * o.d;
          var value = r >= 0 && r < x.h && c >= 0 && c < x.w ? x.v[r * x.w + c] : 0;
          terms.push(value.toFixed(2) + "·" + (+k[u][v].toFixed(3)));
          var pr = r + o.p, pc = c + o.p;
          box(ctx, pc * st.zin, pr * st.zin, (pc + 1) * st.zin, (pr + 1) * st.zin, "#e8308c", false, 2);
        }
      }
      var r0 = i * o.s - o.p, c0 = j * o.s - o.p;
      var shown = terms.length > 25 ? terms.slice(0, 12).join(" + ") + " + … (" + terms.length + ")" : terms.join(" + ");
      windowText.textContent = L("window", { i: i, j: j, r0: r0, r1: r0 + (k.length - 1) * o.d, c0: c0,
        c1: c0 + (k[0].length - 1) * o.d, terms: shown, sum: st.y.v[i * st.y.w + j].toFixed(4) });
    }

    function useTyped() {
      var parsed = parseKernel(typed.value, L, data.max_kernel);
      if (parsed.error) { message.textContent = L("kernel_error", { why: parsed.error }); return false; }
      message.textContent = "";
      st.kernel = parsed.kernel;
      return true;
    }

    kernelSel.addEventListener("change", function () {
      if (kernelSel.value === "") { useTyped(); }
      else {
        st.kernel = kernels[kernelSel.value];
        typed.value = st.kernel.map(function (r) { return r.join(" "); }).join("; ");
        message.textContent = "";
      }
      update();
    });
    typed.addEventListener("input", function () {
      kernelSel.value = "";
      useTyped();
      update();
    });
    imageSel.addEventListener("change", update);
    Object.keys(sliders).forEach(function (key) { sliders[key].addEventListener("input", update); });
    outCanvas.addEventListener("mousemove", function (e) {
      choose(Math.floor(e.offsetY / st.zout), Math.floor(e.offsetX / st.zout));
    });
    outCanvas.addEventListener("keydown", function (e) {
      var moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] }, m = moves[e.key];
      if (!m || !st.y) return;
      e.preventDefault();
      var at = st.selected || [0, 0];
      choose(at[0] + (st.selected ? m[0] : 0), at[1] + (st.selected ? m[1] : 0));
    });
    outCanvas.addEventListener("focus", function () { if (!st.selected) choose(0, 0); });
    file.addEventListener("change", function () {
      var f = file.files && file.files[0];
      if (!f) return;
      createImageBitmap(f).then(function (bitmap) {
        var scale = Math.min(64 / Math.min(bitmap.width, bitmap.height), 128 / Math.max(bitmap.width, bitmap.height));
        var w = Math.max(1, Math.round(bitmap.width * scale)), h = Math.max(1, Math.round(bitmap.height * scale));
        var c = document.createElement("canvas");
        c.width = w; c.height = h;
        var ctx = c.getContext("2d");
        ctx.drawImage(bitmap, 0, 0, w, h);
        var rgba = ctx.getImageData(0, 0, w, h).data, v = new Float64Array(w * h);
        for (var i = 0; i < w * h; i++) v[i] = (0.2125 * rgba[4 * i] + 0.7154 * rgba[4 * i + 1] + 0.0721 * rgba[4 * i + 2]) / 255;
        var name = L("own_image_name");
        images[name] = { h: h, w: w, v: v };
        if (!Array.prototype.some.call(imageSel.options, function (o) { return o.value === name; })) {
          imageSel.appendChild(el("option", { value: name, text: name }));
        }
        imageSel.value = name;
        message.textContent = "";
        update();
      }, function () { message.textContent = L("image_error", { name: f.name }); });
    });
    update();
    return {
      state: function () {
        var x = images[imageSel.value], o = settings();
        return { image: imageSel.value, input: Array.from(x.v), h: x.h, w: x.w, kernel: st.kernel, stride: o.s,
          padding: o.p, dilation: o.d, output: st.y ? Array.from(st.y.v) : null, oh: st.y ? st.y.h : 0,
          ow: st.y ? st.y.w : 0, selected: st.selected, window: windowText.textContent, message: message.textContent,
          formula: formula.textContent };
      }
    };
  }

  // ------------------------------------------------------------------------------------------ receptive field
  function buildReceptiveField(node, payload) {
    var L = shell(node, payload, "rf_title"), data = payload.data;
    var keys = [["depth", "depths"], ["rf_kernel", "kernels"], ["stride", "strides"], ["dilation", "dilations"]];
    var controls = el("div", { class: "cnnbook-controls" }), sel = {};
    keys.forEach(function (k) {
      var values = data[k[1]];
      sel[k[1]] = select(values.map(function (v) { return [v, String(v)]; }), values[Math.min(values.length - 1, k[1] === "depths" ? 2 : 0)]);
      controls.appendChild(labelled(node, L(k[0]), sel[k[1]]));
    });
    var result = el("p", { class: "cnnbook-result", "aria-live": "polite" }), measured = el("p");
    var rows = el("ol", { class: "cnnbook-rows" }), canvas = el("canvas", { role: "img", "aria-label": L("rf_map") });
    var cap = el("figcaption", { text: L("rf_map") });
    [controls, result, measured, el("div", { class: "cnnbook-pictures" }, [el("figure", {}, [canvas, cap]), rows])]
      .forEach(function (e) { node.appendChild(e); });
    var st = {};

    function update() {
      var depth = +sel.depths.value, k = +sel.kernels.value, s = +sel.strides.value, d = +sel.dilations.value;
      var r = 1, j = 1, layers = [];
      for (var l = 1; l <= depth; l++) { // bottom-up: r += (k - 1) d j, then j *= s
        r = r + (k - 1) * d * j; j = j * s;
        layers.push({ r: r, j: j });
      }
      st = { depth: depth, kernel: k, stride: s, dilation: d, field: r, jump: j, layers: layers, measured: null };
      rows.textContent = "";
      layers.forEach(function (row, i) { rows.appendChild(el("li", { text: L("rf_row", { l: i + 1, r: row.r, j: row.j }) })); });
      result.textContent = L("rf_result", { l: depth, r: r, j: j });
      var setting = data.settings[[depth, k, s, d].join(",")];
      if (!setting) { measured.textContent = ""; canvas.width = canvas.height = 0; return; }
      st.measured = setting.measured;
      measured.textContent = L("rf_measured", { m: setting.measured });
      var map = decode(setting.map), zoom = zoomFor(map.h, map.w, 250);
      st.mapShape = [map.h, map.w];
      var ctx = paint(canvas, map, function (v) { return mix(VIRIDIS, v); }, zoom);
      var m = data.margin; // the recurrence's field, dashed, at the centre unit's place
      box(ctx, m * zoom, m * zoom, (m + r) * zoom, (m + r) * zoom, "#ff4040", true, 2);
    }

    Object.keys(sel).forEach(function (k) { sel[k].addEventListener("change", update); });
    update();
    return { state: function () { return JSON.parse(JSON.stringify(st)); } };
  }

  // ------------------------------------------------------------------------------------------ CAM
  function upsample(m, H, W) { // F.interpolate(mode="bilinear", align_corners=False) of one map to H x W
    var out = new Float64Array(H * W), sh = m.h / H, sw = m.w / W;
    for (var i = 0; i < H; i++) {
      var sy = Math.max((i + 0.5) * sh - 0.5, 0), y0 = Math.floor(sy), y1 = y0 < m.h - 1 ? y0 + 1 : y0, ly = sy - y0;
      for (var j = 0; j < W; j++) {
        var sx = Math.max((j + 0.5) * sw - 0.5, 0), x0 = Math.floor(sx), x1 = x0 < m.w - 1 ? x0 + 1 : x0, lx = sx - x0;
        out[i * W + j] = (1 - ly) * ((1 - lx) * m.v[y0 * m.w + x0] + lx * m.v[y0 * m.w + x1]) +
          ly * ((1 - lx) * m.v[y1 * m.w + x0] + lx * m.v[y1 * m.w + x1]);
      }
    }
    return out;
  }

  function buildCam(node, payload) {
    var L = shell(node, payload, "cam_title"), data = payload.data;
    var images = data.images.map(decode), classes = data.probs[0].length;
    var imageSel = select(data.labels.map(function (y, n) { return [n, L("image_option", { n: n, y: y })]; }), 0);
    var targetSel = select([["predicted", L("predicted", { c: "" })]].concat(
      Array.apply(null, Array(classes)).map(function (_, c) { return [c, String(c)]; })), "predicted");
    var methodSel = select([["CAM", "CAM"], ["Grad-CAM", "Grad-CAM"]], "Grad-CAM");
    var layerSel = select(data.layers.map(function (l) { return [l, l]; }), data.layers[data.layers.length - 1]);
    var opacity = range(0, 1, 0.05, 0.5);
    var controls = el("div", { class: "cnnbook-controls" }, [labelled(node, L("test_image"), imageSel),
      labelled(node, L("target"), targetSel), labelled(node, L("method"), methodSel), labelled(node, L("layer"), layerSel)]);
    var opacityField = labelled(node, L("opacity"), opacity);
    controls.appendChild(withValue(opacityField, opacity));
    var canvas = el("canvas", { role: "img" }), cap = el("figcaption", { "aria-live": "polite" }), score = el("p");
    [controls, el("div", { class: "cnnbook-pictures" }, [el("figure", {}, [canvas, cap])]), score]
      .forEach(function (e) { node.appendChild(e); });
    var st = {};

    function predicted(n) {
      var p = data.probs[n], best = 0;
      for (var c = 1; c < p.length; c++) if (p[c] > p[best]) best = c;
      return best;
    }

    function update() {
      var n = +imageSel.value, pred = predicted(n);
      targetSel.options[0].textContent = L("predicted", { c: pred });
      var c = targetSel.value === "predicted" ? pred : +targetSel.value;
      var cam = methodSel.value === "CAM";
      Array.prototype.forEach.call(layerSel.options, function (o) { o.disabled = cam && o.value !== "last"; });
      if (cam) layerSel.value = "last";
      var key = methodSel.value + " " + layerSel.value, img = images[n], map = decode(data.maps[key][n][c]);
      var up = upsample(map, img.h, img.w), top = 0, peak = 0;
      for (var i = 0; i < up.length; i++) if (up[i] > up[peak]) peak = i;
      top = up[peak];
      var a = +opacity.value, zoom = zoomFor(img.h, img.w, 280);
      var ctx = paint(canvas, img, function (v, i) {
        var g = grey(v), h = mix(VIRIDIS, top > 0 ? up[i] / top : 0);
        return [0, 1, 2].map(function (k) { return Math.round((1 - a) * g[k] + a * h[k]); });
      }, zoom);
      if (data.boxes) {
        var b = data.boxes[n];
        box(ctx, b[0] * zoom, b[1] * zoom, b[2] * zoom, b[3] * zoom, "#ffffff", true, 2);
      }
      var pr = Math.floor(peak / img.w), pc = peak % img.w;
      ctx.beginPath(); ctx.strokeStyle = "#ff4040"; ctx.lineWidth = 2;
      ctx.arc((pc + 0.5) * zoom, (pr + 0.5) * zoom, zoom * 1.5, 0, 2 * Math.PI); ctx.stroke();
      var caption = L("cam_caption", { method: methodSel.value, layer: layerSel.value, c: c, p: (100 * data.probs[n][c]).toFixed(1) + " %" });
      cap.textContent = caption;
      canvas.setAttribute("aria-label", caption);
      var s = data.scores[key];
      score.textContent = s ? L("score", { n: s.n, box: s.box, point: s.point }) : L("no_score");
      st = { image: n, target: c, method: methodSel.value, layer: layerSel.value, key: key, opacity: a,
        map: Array.from(map.v), mapShape: [map.h, map.w], overlay: Array.from(up), size: [img.h, img.w],
        peak: [pr, pc], caption: caption, score: score.textContent };
    }

    [imageSel, targetSel, methodSel, layerSel].forEach(function (s) { s.addEventListener("change", update); });
    opacity.addEventListener("input", update);
    update();
    return { state: function () { return JSON.parse(JSON.stringify(st)); } };
  }

  var BUILDERS = { convolution: buildConvolution, receptive_field: buildReceptiveField, cam: buildCam };

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("div.cnnbook-explorer"), function (node) {
      var script = node.querySelector("script.cnnbook-explorer-data");
      if (!script || registry[node.id]) return;
      var payload = JSON.parse(script.textContent), build = BUILDERS[payload.kind];
      if (!build) throw new Error("cnnbook explorers: unknown kind " + payload.kind);
      var api = build(node, payload);
      api.root = node;
      registry[payload.id] = api;
      registry[node.id] = api;
      node.setAttribute("data-ready", "true");
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
