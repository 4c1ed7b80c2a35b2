// Runs in the assembled page (book/build_pdf.py) with print media emulated and the viewport as wide as the
// printed text column: waits for images and MathJax, opens collapsed blocks, wraps code to the column
// (at spaces; a continuation line starts with "↪ "; a token longer than a line is cut and its line ends
// with "↵"), shrinks display math wider than the column, and keeps short blocks off page breaks.
async () => {
  const imgs = [...document.images];
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(done => {
    i.addEventListener('load', done, {once: true}); i.addEventListener('error', done, {once: true}); })));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
    if (MathJax.typesetPromise) { await MathJax.typesetPromise(); }
  }
  document.querySelectorAll('details').forEach(d => { d.open = true; });

  const report = {images: imgs.length, broken: imgs.filter(i => !i.naturalWidth).map(i => i.src),
                  math: document.querySelectorAll('mjx-container').length,
                  mjx_errors: document.querySelectorAll('mjx-merror').length,
                  wrapped_at_space: 0, tokens_cut: 0, code_blocks: 0, math_shrunk: 0, too_wide: []};

  const marker = (text) => { const s = document.createElement('span'); s.className = 'pdf-wrap';
                             s.textContent = text; return s; };

  // Insert `nodes` at character `offset` of `pre`'s text, removing `remove` characters there.
  function edit(textNodes, starts, offset, remove, nodes) {
    let k = starts.length - 1;
    while (starts[k] > offset) k--;
    let node = textNodes[k], local = offset - starts[k];
    const after = node.splitText(local);
    if (remove) after.deleteData(0, remove);
    nodes.forEach(n => after.parentNode.insertBefore(n, after));
  }

  function wrapPre(pre) {
    const style = getComputedStyle(pre);
    const probe = document.createElement('span');
    probe.style.whiteSpace = 'pre'; probe.textContent = 'M'.repeat(80);
    pre.appendChild(probe);
    const charWidth = probe.getBoundingClientRect().width / 80;
    probe.remove();
    const inner = pre.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const cols = Math.max(20, Math.floor(inner / charWidth) - 1);
    const walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
    const textNodes = [], starts = [];
    let total = 0, n;
    while ((n = walker.nextNode())) { textNodes.push(n); starts.push(total); total += n.data.length; }
    const text = textNodes.map(t => t.data).join('');
    const edits = [];  // [offset, remove, kind, indent]
    let lineStart = 0;
    for (const line of text.split('\n')) {
      if (line.length > cols) {
        const indent = Math.min(line.match(/^ */)[0].length, Math.floor(cols / 2));
        let pos = 0, cap = cols;
        while (line.length - pos > cap) {
          const part = line.slice(pos, pos + cap + 1);
          const space = part.lastIndexOf(' ');
          if (space > part.match(/^ */)[0].length) {
            edits.push([lineStart + pos + space, 1, 'space', indent]);
            pos += space + 1;
          } else {
            edits.push([lineStart + pos + cap - 1, 0, 'cut', indent]);
            pos += cap - 1;
          }
          cap = cols - indent - 2;
        }
      }
      lineStart += line.length + 1;
    }
    for (const [offset, remove, kind, indent] of edits.reverse()) {
      const nodes = [];
      if (kind === 'cut') { nodes.push(marker('↵')); report.tokens_cut++; } else { report.wrapped_at_space++; }
      nodes.push(document.createTextNode('\n' + ' '.repeat(indent)), marker('↪ '));
      edit(textNodes, starts, offset, remove, nodes);
    }
    report.code_blocks++;
  }
  document.querySelectorAll('pre').forEach(wrapPre);

  // Display math wider than the column is scaled down to fit.
  for (const m of document.querySelectorAll('mjx-container[display="true"]')) {
    const inner = m.firstElementChild;
    if (!inner) continue;
    const need = inner.getBoundingClientRect().width, have = m.parentElement.clientWidth;
    if (need > have && have > 0) {
      m.style.fontSize = `${Math.floor(100 * have / need)}%`;
      report.math_shrunk++;
    }
  }

  // Blocks shorter than a quarter page are not split across pages (a split short cell leaves a stub).
  const quarter = 0.25 * 261 * 96 / 25.4;
  const blocks = 'div.cell, div.cell_input, div.cell_output, div.admonition, div.math, table, figure, ' +
                 'div.highlight, blockquote, .pdf-index-letter + ul li, dl.glossary > dt, dl > div';
  document.querySelectorAll(blocks).forEach(b => {
    if (b.getBoundingClientRect().height < quarter) b.classList.add('pdf-short');
  });

  // Anything still wider than the text column is reported (the build fails on it).
  const column = document.querySelector('.bd-article').clientWidth;
  for (const e of document.querySelectorAll('.bd-article pre, .bd-article img, .bd-article table, mjx-container')) {
    const r = e.getBoundingClientRect();
    if (r.width > column + 1) report.too_wide.push(`${e.tagName} ${Math.round(r.width)} px > ${column} px: ` +
                                                   e.textContent.slice(0, 60));
  }
  report.headings = [...document.querySelectorAll('h1, h2')].length;
  return report;
}
