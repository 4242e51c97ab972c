/* cnncalc report: the layer graph (laid out by the vendored @dagrejs/dagre, global `dagre`), the
 * sortable lecture table and the details of a layer. The data is the JSON block #cnncalc-data,
 * written by cnncalc/render/html.py. Every string from the spec reaches the page through
 * textContent or setAttribute, never innerHTML. */
(function () {
  "use strict";
  const SVGNS = "http://www.w3.org/2000/svg";
  const CHAR_W = 6.7, NODE_H = 34, PAD_X = 10, MAX_LABEL = 40, COMPOUND_LIMIT = 250, READABLE = 0.7;
  const D = JSON.parse(document.getElementById("cnncalc-data").textContent);
  const layers = D.layers, blocks = D.blocks;
  const children = blocks.map(() => []);  // block -> child blocks
  blocks.forEach((b, j) => { if (b.p >= 0) children[b.p].push(j); });
  const consumers = layers.map(() => []);
  layers.forEach((l, i) => l.i.forEach(s => { if (s >= 0) consumers[s].push(i); }));
  const members = blocks.map(() => []);  // block -> every layer inside it, nested ones too
  layers.forEach((l, i) => { for (let b = l.b; b >= 0; b = blocks[b].p) members[b].push(i); });
  const depth = blocks.map(b => { let d = 0; for (let p = b.p; p >= 0; p = blocks[p].p) d++; return d; });

  const fmt = s => BigInt(s).toLocaleString("en-US");
  const sum = (ids, k) => ids.reduce((a, i) => a + BigInt(layers[i].x[k]), 0n);
  const share = (part, whole) => whole === "0" ? "" : " (" + (100 * Number(part) / Number(whole)).toFixed(2) + "%)";
  const cut = s => s.length > MAX_LABEL ? s.slice(0, MAX_LABEL - 1) + "…" : s;
  const blockLabel = j => blocks[j].n + (blocks[j].op ? " · " + blocks[j].op : "");
  // Inside a block's frame a name drops the block's prefix: "conv" in "inception3a.branch1".
  const local = (name, b) => (b >= 0 ? name.slice(blocks[b].n.length + 1) : name);
  const localBlockLabel = j => local(blocks[j].n, blocks[j].p) + (blocks[j].op ? " · " + blocks[j].op : "");
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    if (attrs) for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function sv(tag, attrs, text) {
    const e = document.createElementNS(SVGNS, tag);
    if (attrs) for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  const cell = (l, c) => (typeof c.c === "string" ? l[c.c] : l.c[c.c]);
  const shapeOf = i => (i < 0 ? D.input : layers[i].s);

  // ---- the table ------------------------------------------------------------------------------
  const table = document.getElementById("layers");
  const headRow = table.createTHead().insertRow();
  const tbody = table.createTBody();
  const rows = layers.map((l, i) => {
    const tr = el("tr", { "data-layer": i });
    D.columns.forEach((c, k) => {
      const td = el("td", c.left ? { class: "left" } : null, cell(l, c));
      if (c.exact >= 0) td.setAttribute("title", fmt(l.x[c.exact]) + " " + c.unit);
      tr.appendChild(td);
    });
    tr.addEventListener("click", () => select({ layer: i }, true));
    return tr;
  });
  const foot = table.createTFoot().insertRow();
  D.columns.forEach((c, k) => {
    const td = el("td", c.left ? { class: "left" } : null, D.totalCells[k]);
    if (c.exact >= 0) td.setAttribute("title", fmt(D.totals[c.exact]) + " " + c.unit);
    foot.appendChild(td);
  });
  function sortKey(k) {  // numbers where the column holds numbers, else text
    const c = D.columns[k];
    if (c.exact >= 0) return l => Number(l.x[c.exact]);
    const number = text => (text === "" ? -Infinity : Number(text.replace(/,/g, "")));
    const numeric = layers.every(l => !isNaN(number(cell(l, c))));
    return numeric ? l => number(cell(l, c)) : l => cell(l, c);
  }
  let sorted = { col: -1, dir: 1 };
  function sortBy(k) {
    const dir = sorted.col === k ? -sorted.dir : (D.columns[k].left ? 1 : -1);
    sorted = { col: k, dir };
    const key = sortKey(k);
    const order = layers.map((l, i) => i).sort((a, b) => {
      const x = key(layers[a]), y = key(layers[b]);
      return (x < y ? -1 : x > y ? 1 : 0) * dir || a - b;
    });
    const frag = document.createDocumentFragment();
    for (const i of order) frag.appendChild(rows[i]);
    tbody.appendChild(frag);
    headRow.querySelectorAll("th").forEach((th, j) =>
      th.setAttribute("aria-sort", j === k ? (dir > 0 ? "ascending" : "descending") : "none"));
  }
  D.columns.forEach((c, k) => {
    const th = el("th", { class: c.left ? "left" : "", tabindex: 0, "aria-sort": "none", scope: "col" }, c.h);
    th.addEventListener("click", () => sortBy(k));
    th.addEventListener("keydown", e => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(k); } });
    headRow.appendChild(th);
  });
  tbody.append(...rows);

  // ---- the graph: which nodes are visible --------------------------------------------------------
  const collapsed = new Set();
  function rep(i) {  // the node standing for layer i: its outermost collapsed block, or itself
    if (i < 0) return "in";
    let r = -1;
    for (let b = layers[i].b; b >= 0; b = blocks[b].p) if (collapsed.has(b)) r = b;
    return r >= 0 ? "b:" + r : "l:" + i;
  }
  function hidden(j) { for (let b = j; b >= 0; b = blocks[b].p) if (collapsed.has(b)) return true; return false; }
  // A collapsed block that gives several outputs shows each as a node under it, as the table's
  // `→ NAME` lines: "p:J:K" is output K of block J (blocks[J].o[K]: its name within J, its layer).
  function portOf(from, s) {
    if (from[0] !== "b") return from;
    const j = +from.slice(2), k = (blocks[j].o || []).findIndex(o => o[1] === s);
    return k < 0 ? from : "p:" + j + ":" + k;
  }
  function labelOf(id) {  // [first line, second line, full name for the tooltip]
    if (id === "in") return ["input", D.input, "network input"];
    if (id[0] === "p") {
      const [j, k] = id.slice(2).split(":").map(Number), [name, i] = blocks[j].o[k];
      return ["\u2192 " + name, layers[i].s, blocks[j].n + "." + name];
    }
    if (id[0] === "l") { const l = layers[+id.slice(2)]; return [local(l.n, l.b), l.op + "  " + l.s, l.n]; }
    const j = +id.slice(2);
    return ["▸ " + localBlockLabel(j), members[j].length + " layers · " + fmt(sum(members[j], 2)) + " MACs",
            blockLabel(j)];
  }
  function parentOf(id) {
    if (id === "in") return -1;
    if (id[0] === "p") return blocks[+id.slice(2).split(":")[0]].p;
    return id[0] === "l" ? layers[+id.slice(2)].b : blocks[+id.slice(2)].p;
  }

  // Two ways to lay out. "flat": dagre places the visible nodes only, and each block's frame is
  // drawn around its members afterwards (fast: ResNet-152's 515 layers in well under a second).
  // "compound": dagre places the blocks as clusters (exact nesting, but 2-3 s at 300 nodes). A flat
  // layout that had to drop a frame (it would cover another block's node) is redone as compound
  // when the view has at most COMPOUND_LIMIT nodes.
  const MODE = /^#(flat|compound)$/.test(location.hash) ? location.hash.slice(1) : "auto";
  function layout(compound) {
    const g = new dagre.graphlib.Graph({ compound });
    // room between ranks for the labels of frames nested in one another (flat frames grow 12 px a level)
    const nesting = blocks.reduce((m, b, j) => (hidden(j) ? m : Math.max(m, depth[j])), 0);
    g.setGraph({ rankdir: "TB", nodesep: 18, ranksep: Math.max(30, 24 + 12 * nesting), marginx: 14, marginy: 14 });
    g.setDefaultEdgeLabel(() => ({}));
    if (compound) blocks.forEach((b, j) => {
      if (hidden(j)) return;
      g.setNode("c:" + j, {});
      if (b.p >= 0) g.setParent("c:" + j, "c:" + b.p);
    });
    const inside = new Map();  // visible block -> visible nodes inside it
    const add = id => {
      if (g.hasNode(id)) return;
      const [a, b] = labelOf(id);
      g.setNode(id, { width: Math.max(cut(a).length, cut(b).length) * CHAR_W + 2 * PAD_X, height: NODE_H });
      const p = parentOf(id);
      if (compound && p >= 0) g.setParent(id, "c:" + p);
      for (let q = p; q >= 0; q = blocks[q].p) (inside.get(q) || inside.set(q, []).get(q)).push(id);
    };
    add("in");
    layers.forEach((l, i) => {
      const id = rep(i);
      add(id);
      for (const s of l.i) {
        const block = rep(s);
        if (block === id) continue;
        const from = portOf(block, s);
        if (from !== block && !g.hasNode(from)) { add(from); g.setEdge(block, from); }
        g.setEdge(from, id);
      }
    });
    if (compound) for (const v of g.nodes()) if (v[0] === "c" && g.children(v).length === 0) g.removeNode(v);
    const t = performance.now();
    dagre.layout(g);
    const ms = performance.now() - t;
    const frames = [];
    if (compound) {
      for (const v of g.nodes()) if (v[0] === "c") {
        const n = g.node(v), j = +v.slice(2);
        frames.push({ j, x: n.x - n.width / 2, y: n.y - n.height / 2, w: n.width, h: n.height });
      }
    } else {
      const below = new Map();  // block -> levels of visible frames nested inside, for padding
      for (const j of [...inside.keys()].sort((a, b) => depth[b] - depth[a])) {
        let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
        for (const id of inside.get(j)) {
          const n = g.node(id);
          x0 = Math.min(x0, n.x - n.width / 2); x1 = Math.max(x1, n.x + n.width / 2);
          y0 = Math.min(y0, n.y - n.height / 2); y1 = Math.max(y1, n.y + n.height / 2);
        }
        const k = below.get(j) || 0, pad = 6 + 6 * k, top = 16 + 12 * k;
        frames.push({ j, x: x0 - pad, y: y0 - top, w: x1 - x0 + 2 * pad, h: y1 - y0 + top + pad });
        const p = blocks[j].p;
        if (p >= 0) below.set(p, Math.max(below.get(p) || 0, k + 1));
      }
    }
    // A flat frame is only drawn where it covers none but its own nodes; the others are dropped.
    let dropped = 0;
    const covers = (f, n) => n.x + n.width / 2 > f.x && n.x - n.width / 2 < f.x + f.w &&
      n.y + n.height / 2 > f.y && n.y - n.height / 2 < f.y + f.h;
    const drawn = compound ? frames : frames.filter(f => {
      const mine = new Set(inside.get(f.j));
      const clean = g.nodes().every(v => mine.has(v) || !covers(f, g.node(v)));
      if (!clean) dropped++;
      return clean;
    });
    return { g, ms, frames: drawn, dropped, mode: compound ? "compound" : "flat" };
  }

  // ---- the graph: drawing -------------------------------------------------------------------------
  const svg = document.getElementById("graph");
  const view = document.getElementById("graph-view");
  let zoom = 1, selected = null, size = { w: 1, h: 1 };
  function render() {
    let r = layout(MODE === "compound");
    if (MODE === "auto" && r.dropped > 0 && r.g.nodeCount() <= COMPOUND_LIMIT) {
      const flatMs = r.ms;
      r = layout(true);
      r.ms += flatMs;
    }
    const { g, frames } = r;
    const t = performance.now();
    svg.replaceChildren();
    const marker = sv("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 8, markerHeight: 8, markerUnits: "userSpaceOnUse", orient: "auto-start-reverse" });
    marker.appendChild(sv("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }));
    const defs = sv("defs"); defs.appendChild(marker); svg.appendChild(defs);
    const framesG = sv("g", { class: "clusters" }), edgesG = sv("g", { class: "edges" }), nodesG = sv("g", { class: "nodes" });
    svg.append(framesG, edgesG, nodesG);
    let x0 = 0, y0 = 0, x1 = g.graph().width, y1 = g.graph().height;
    frames.sort((a, b) => depth[a.j] - depth[b.j]);
    for (const f of frames) {
      x0 = Math.min(x0, f.x - 4); y0 = Math.min(y0, f.y - 4); x1 = Math.max(x1, f.x + f.w + 4); y1 = Math.max(y1, f.y + f.h + 4);
      const c = sv("g", { class: "cluster", "data-block": f.j });
      c.appendChild(sv("rect", { x: f.x, y: f.y, width: f.w, height: f.h, rx: 6 }));
      const label = sv("text", { x: f.x + 6, y: f.y + 12, class: "cluster-label" }, "▾ " + cut(localBlockLabel(f.j)));
      label.appendChild(sv("title", null, "collapse " + blocks[f.j].n));
      label.addEventListener("click", e => { e.stopPropagation(); collapsed.add(f.j); render(); });
      c.appendChild(label);
      framesG.appendChild(c);
    }
    for (const e of g.edges()) {
      const p = g.edge(e).points;
      let d = "M" + p[0].x.toFixed(1) + "," + p[0].y.toFixed(1);
      for (let i = 1; i < p.length; i++) d += "L" + p[i].x.toFixed(1) + "," + p[i].y.toFixed(1);
      edgesG.appendChild(sv("path", { d, class: "edge", "marker-end": "url(#arrow)", "data-v": e.v, "data-w": e.w }));
    }
    for (const v of g.nodes()) {
      if (v[0] === "c") continue;
      const n = g.node(v), [a, b, full] = labelOf(v);
      const node = sv("g", { transform: `translate(${(n.x - n.width / 2).toFixed(1)},${(n.y - n.height / 2).toFixed(1)})`, "data-id": v });
      if (v === "in") node.setAttribute("class", "node input");
      else if (v[0] === "l") {
        const i = +v.slice(2);
        node.setAttribute("class", "node kind-" + layers[i].k + (layers[i].o ? " output" : ""));
        node.setAttribute("data-layer", i);
      } else if (v[0] === "p") {
        node.setAttribute("class", "node port");
        node.setAttribute("data-port", full);
      } else {
        node.setAttribute("class", "node block-node");
        node.setAttribute("data-block", v.slice(2));
      }
      node.appendChild(sv("rect", { width: n.width, height: n.height, rx: 4 }));
      node.appendChild(sv("text", { x: PAD_X, y: 14, class: "n1" }, cut(a)));
      node.appendChild(sv("text", { x: PAD_X, y: 27, class: "n2" }, cut(b)));
      node.appendChild(sv("title", null, full + "\n" + b));
      const what = v[0] === "l" ? { layer: +v.slice(2) } : v[0] === "p" ? { block: +v.slice(2).split(":")[0] }
        : { block: +v.slice(2) };
      if (v !== "in") node.addEventListener("click", () => select(what, false));
      nodesG.appendChild(node);
    }
    svg.setAttribute("viewBox", `${x0} ${y0} ${x1 - x0} ${y1 - y0}`);
    size = { w: x1 - x0, h: y1 - y0 };
    applyZoom();
    if (selected) highlight(false);
    const shown = g.nodes().filter(v => v[0] === "l").length, folded = g.nodes().filter(v => v[0] === "b").length;
    document.getElementById("graph-stats").textContent = `${shown} of ${layers.length} layers` +
      (folded ? ` and ${folded} collapsed blocks` : "") + ` · ${g.edgeCount()} edges · ${r.mode} layout ${r.ms.toFixed(0)} ms`;
    window.__layoutMs = r.ms; window.__layoutMode = r.mode; window.__framesDropped = r.dropped;
    window.__renderMs = performance.now() - t;
  }
  function applyZoom() {
    svg.setAttribute("width", (size.w * zoom).toFixed(0));
    svg.setAttribute("height", (size.h * zoom).toFixed(0));
  }
  function fit() {  // the whole width if the text stays readable, else readable and scrolled to the input
    zoom = Math.min(1, Math.max(READABLE, (view.clientWidth - 24) / size.w));
    applyZoom();
    const input = svg.querySelector('g[data-id="in"]');
    if (input) {
      const n = input.getBoundingClientRect(), v = view.getBoundingClientRect();
      view.scrollLeft += n.left - v.left - view.clientWidth / 2 + n.width / 2;
    }
  }
  document.getElementById("zoom-in").addEventListener("click", () => { zoom *= 1.25; applyZoom(); });
  document.getElementById("zoom-out").addEventListener("click", () => { zoom /= 1.25; applyZoom(); });
  document.getElementById("fit").addEventListener("click", fit);
  document.getElementById("collapse-all").addEventListener("click", () => {
    blocks.forEach((b, j) => { if (b.p < 0) collapsed.add(j); });
    render(); fit();
  });
  document.getElementById("expand-all").addEventListener("click", () => { collapsed.clear(); render(); fit(); });
  function expand(j) {  // open one level: the block's own sub-blocks come up collapsed
    collapsed.delete(j);
    for (const c of children[j]) collapsed.add(c);
  }

  // ---- details of a layer or a collapsed block ------------------------------------------------------
  const panel = document.getElementById("details");
  function pairs(list) {
    const d = el("dl");
    for (const [k, v] of list) { d.appendChild(el("dt", null, k)); d.appendChild(el("dd", null, v)); }
    return d;
  }
  const names = ids => ids.map(i => (i < 0 ? "input" : layers[i].n)).join(", ");
  function select(sel, fromTable) {
    if (sel.layer !== undefined) {  // open the blocks around it, outermost first
      const path = [];
      for (let b = layers[sel.layer].b; b >= 0; b = blocks[b].p) path.unshift(b);
      let changed = false;
      for (const b of path) if (collapsed.has(b)) { expand(b); changed = true; }
      if (changed) render();
    }
    selected = sel;
    panel.replaceChildren();
    if (sel.layer !== undefined) {
      const l = layers[sel.layer];
      panel.appendChild(el("h3", null, l.n));
      panel.appendChild(el("p", { class: "sub" }, l.op + ": " + l.i.map(shapeOf).join(" + ") + " → " + l.s));
      panel.appendChild(pairs([
        ["block", l.b >= 0 ? blockLabel(l.b) : "(top level)"],
        ["reads", names(l.i)],
        ["read by", names(consumers[sel.layer]) + (l.o ? (consumers[sel.layer].length ? ", " : "") + "network output" : "")],
        ["memory", fmt(l.x[0]) + " bytes" + share(l.x[0], D.totals[0])],
        ["params", fmt(l.x[1]) + share(l.x[1], D.totals[1])],
        ["MACs", fmt(l.x[2]) + share(l.x[2], D.totals[2])],
      ]));
      panel.appendChild(el("pre", { class: "derivation" }, l.d.map(k => D.strings[k]).join("\n")));
      if (l.w.length) {
        const ul = el("ul", { class: "warnings" });
        for (const w of l.w) ul.appendChild(el("li", null, w));
        panel.appendChild(ul);
      }
      if (l.b >= 0) {
        const button = el("button", { type: "button", id: "collapse-selected" }, "collapse " + blocks[l.b].n);
        button.addEventListener("click", () => { collapsed.add(l.b); render(); select({ block: l.b }, false); });
        panel.appendChild(button);
      }
    } else {
      const j = sel.block, ids = members[j];
      panel.appendChild(el("h3", null, blocks[j].n));
      panel.appendChild(pairs([
        ["block", blocks[j].op || "(repeat)"], ["layers", String(ids.length)],
        ["memory", fmt(sum(ids, 0)) + " bytes"], ["params", fmt(sum(ids, 1))], ["MACs", fmt(sum(ids, 2))],
      ]));
      const button = el("button", { type: "button", id: "expand-selected" }, "expand " + blocks[j].n);
      button.addEventListener("click", () => { expand(j); render(); });
      panel.appendChild(button);
    }
    highlight(fromTable);
  }
  function highlight(fromTable) {
    svg.querySelectorAll(".selected").forEach(e => e.classList.remove("selected"));
    svg.querySelectorAll(".edge.hl").forEach(e => e.classList.remove("hl"));
    tbody.querySelectorAll(".selected").forEach(e => e.classList.remove("selected"));
    const id = selected.layer !== undefined ? "l:" + selected.layer : "b:" + selected.block;
    const node = svg.querySelector(`g[data-id="${id}"]`);
    if (!node) return;
    node.classList.add("selected");
    svg.querySelectorAll(`path[data-v="${id}"], path[data-w="${id}"]`).forEach(e => e.classList.add("hl"));
    if (selected.layer !== undefined) rows[selected.layer].classList.add("selected");
    if (fromTable) {
      document.getElementById("graph-pane").scrollIntoView({ block: "start" });
      const n = node.getBoundingClientRect(), v = view.getBoundingClientRect();
      view.scrollTop += n.top - v.top - view.clientHeight / 2 + n.height / 2;
      view.scrollLeft += n.left - v.left - view.clientWidth / 2 + n.width / 2;
    }
  }

  render();
  fit();
  window.__readyAt = performance.now();  // ms since navigation started
  window.__ready = true;
  requestAnimationFrame(() => setTimeout(() => { window.__paintedAt = performance.now(); }, 0));
})();
