/* cnnbook: code and printed outputs that fit the text column (issue 26; CSS in cnnbook.css).

Long lines wrap at spaces instead of scrolling. So that a wrapped line still reads as one line, every line
of a code or output block becomes a <span class="cnnbook-line"> whose continuation rows are indented
(hanging indent: the line's own indentation plus 4 columns for code, 2 for outputs). The newlines between
lines stay plain text, so copying a block (copy button, selection) gives exactly the original text.
The rows of a printed table (an output with two or more lines of aligned columns, or a rule of dashes)
never wrap: each is a <span class="cnnbook-line cnnbook-row">, and a caption line without columns below
the table still wraps. tests/test_browser_book.py checks that every row fits the column at 1280 px; on a
phone a wide table scrolls sideways. Without JavaScript the blocks wrap, only without the hanging indent.
*/
(() => {
  "use strict";
  const TABLE_ROW = /\S {2,}\S.*\S {2,}\S/;     // two or more column gaps of 2+ spaces
  const RULE = /^\s*[-=─━]{8,}\s*$/;             // a line of dashes under a table head
  const COLUMN_GAP = /\S {2,}\S/;                // one gap: a row of a table (a caption line has none)

  function isTable(lines) {
    return lines.filter(line => TABLE_ROW.test(line) || RULE.test(line)).length >= 2;
  }

  // The nodes of `pre` split at its newlines: a list of lines, each a list of nodes. Highlighting spans hold
  // text only; a span that crosses a newline is cut into one copy per line. Null if a span nests elements.
  function splitLines(pre) {
    const lines = [[]];
    for (const node of [...pre.childNodes]) {
      if (node.nodeType === Node.ELEMENT_NODE && node.children.length) {
        if (node.textContent.includes("\n")) return null;
        lines[lines.length - 1].push(node);
        continue;
      }
      const pieces = node.textContent.split("\n");
      pieces.forEach((piece, k) => {
        if (k > 0) lines.push([]);
        if (!piece) return;
        let part = node;
        if (pieces.length > 1) {
          part = node.nodeType === Node.TEXT_NODE ? document.createTextNode(piece) : node.cloneNode(false);
          part.textContent = piece;
        }
        lines[lines.length - 1].push(part);
      });
    }
    if (lines.length > 1 && !lines[lines.length - 1].length) lines.pop();  // the block's final newline
    return lines;
  }

  function hangLines(pre, extra, table) {
    const endsWithNewline = pre.textContent.endsWith("\n");
    const lines = splitLines(pre);
    if (!lines) return;
    pre.replaceChildren();
    lines.forEach((nodes, k) => {
      const line = document.createElement("span");
      line.className = "cnnbook-line";
      line.append(...nodes);
      if (table && (COLUMN_GAP.test(line.textContent) || RULE.test(line.textContent))) {
        line.classList.add("cnnbook-row");
      }
      const indent = line.textContent.length - line.textContent.trimStart().length;
      line.style.setProperty("--cnnbook-hang", String(Math.min(indent + extra, 40)));
      pre.append(line);
      if (k < lines.length - 1 || endsWithNewline) pre.append("\n");
    });
  }

  function fitBlocks() {
    for (const pre of document.querySelectorAll("div.highlight > pre")) {
      const output = pre.closest(".cell_output, .output") !== null;
      const table = output && isTable(pre.textContent.split("\n"));
      if (table) pre.classList.add("cnnbook-table");
      hangLines(pre, output ? 2 : 4, table);
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fitBlocks);
  else fitBlocks();
})();
