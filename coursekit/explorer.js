// The course's explorers in the browser: one front-end module for three views (feature maps,
// Grad-CAM, filter patterns). Live (JupyterLab, Notebook, Colab, VS Code) anywidget passes a
// model synced with Python, which computes a frame when a choice needs one; on a static page or
// in an exported folder, `staticModel` plays that model from precomputed frames, with no kernel.
//
// The model's state: kind ("activation" | "gradcam" | "pattern"), spec (what never changes:
// layers, titles, photos, class names, colour tables, which state names pick a frame), the
// choices (layer, channel, image, klass, blend, grid) and frame (what the choice shows):
//   activation: {sprite: gray PNG of every channel of one layer for one image, tiled
//                `columns` a row, each height x width, 8-bit: matplotlib's colormap index},
//   gradcam:    {heat: gray PNG of the heatmap at the layer's size},
//   pattern:    {picture: the pattern as an image}.

const STYLE = `
.ck-explorer { font: 14px/1.4 system-ui, sans-serif; color: #222; margin: 6px 0; }
.ck-explorer .ck-row { display: flex; flex-wrap: wrap; gap: 6px 18px; align-items: center; margin: 4px 0; }
.ck-explorer label { display: inline-flex; gap: 6px; align-items: center; }
.ck-explorer input[type=range] { width: 220px; }
.ck-explorer .ck-readout { min-width: 2.5em; font-variant-numeric: tabular-nums; }
.ck-explorer .ck-caption { white-space: pre-line; margin: 4px 0; min-height: 2.8em; }
.ck-explorer canvas.ck-map, .ck-explorer canvas.ck-grid { image-rendering: pixelated; }
.ck-explorer .ck-pictures { display: flex; gap: 12px; align-items: flex-start; flex-wrap: wrap; }
.ck-explorer .ck-status { color: #8a4b00; min-height: 1.2em; }
`;

function node(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") element.className = value;
    else if (name === "text") element.textContent = value;
    else element.setAttribute(name, value);
  }
  element.append(...children);
  return element;
}

function addStyle(root) {
  const doc = root.ownerDocument;
  if (!doc.getElementById("ck-explorer-style")) {
    doc.head.append(node("style", { id: "ck-explorer-style", text: STYLE }));
  }
}

const decoded = new Map(); // data URL -> Promise of its pixels (ImageData)

function pixels(url) {
  if (!decoded.has(url)) {
    decoded.set(url, (async () => {
      const image = new Image();
      image.src = url;
      await image.decode();
      const canvas = node("canvas", { width: image.width, height: image.height });
      const context = canvas.getContext("2d", { willReadFrequently: true });
      context.drawImage(image, 0, 0);
      return context.getImageData(0, 0, image.width, image.height);
    })());
    if (decoded.size > 64) decoded.delete(decoded.keys().next().value); // bounded
  }
  return decoded.get(url);
}

function colourTable(base64) {
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)); // 256 RGB triplets
}

function slider(label, max, step = 1) {
  const input = node("input", { type: "range", min: 0, max, step });
  const readout = node("span", { class: "ck-readout" });
  const wrapper = node("label", {}, label, input, readout);
  const show = () => { readout.textContent = input.value; };
  input.addEventListener("input", show);
  return { wrapper, input, show };
}

function menu(label, options) {
  const select = node("select", {}, ...options.map(([text, value]) => node("option", { value, text })));
  return { wrapper: node("label", {}, label, select), select };
}

// Paint channel `channel` of an activation frame into `canvas`, one pixel per activation.
function paintChannel(canvas, sprite, frame, channel, table) {
  const { height, width, columns } = frame;
  const top = Math.floor(channel / columns) * height, left = (channel % columns) * width;
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  const out = context.createImageData(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const index = sprite.data[((top + y) * sprite.width + left + x) * 4];
      const o = (y * width + x) * 4;
      out.data[o] = table[3 * index]; out.data[o + 1] = table[3 * index + 1];
      out.data[o + 2] = table[3 * index + 2]; out.data[o + 3] = 255;
    }
  }
  context.putImageData(out, 0, 0);
}

function paintSprite(canvas, sprite, table) {
  canvas.width = sprite.width;
  canvas.height = sprite.height;
  const context = canvas.getContext("2d");
  const out = context.createImageData(sprite.width, sprite.height);
  for (let i = 0; i < sprite.data.length; i += 4) {
    const index = sprite.data[i];
    out.data[i] = table[3 * index]; out.data[i + 1] = table[3 * index + 1];
    out.data[i + 2] = table[3 * index + 2]; out.data[i + 3] = 255;
  }
  context.putImageData(out, 0, 0);
}

// The photo with the heatmap (stretched to the photo, bilinear) coloured and blended on top.
function paintBlend(canvas, photo, heat, table, alpha) {
  canvas.width = photo.width;
  canvas.height = photo.height;
  const stretch = node("canvas", { width: photo.width, height: photo.height });
  const source = node("canvas", { width: heat.width, height: heat.height });
  source.getContext("2d").putImageData(heat, 0, 0);
  const context = stretch.getContext("2d", { willReadFrequently: true });
  context.imageSmoothingEnabled = true;
  context.drawImage(source, 0, 0, photo.width, photo.height);
  const big = context.getImageData(0, 0, photo.width, photo.height).data;
  const out = canvas.getContext("2d").createImageData(photo.width, photo.height);
  for (let i = 0; i < big.length; i += 4) {
    const index = big[i];
    for (let c = 0; c < 3; c++) {
      out.data[i + c] = Math.round((1 - alpha) * photo.data[i + c] + alpha * table[3 * index + c]);
    }
    out.data[i + 3] = 255;
  }
  canvas.getContext("2d").putImageData(out, 0, 0);
}

const shapeText = (shape) => `(${shape.join(", ")})`;

// Which frame a state needs: the values of spec.key joined by "|" ("predicted" resolved).
function frameKey(spec, state) {
  return spec.key.map((name) => (name === "klass" && state.klass < 0
    ? spec.predicted[state.image] : state[name])).join("|");
}

export function render({ model, el }) {
  addStyle(el);
  const kind = model.get("kind"), spec = model.get("spec");
  const layers = Object.fromEntries(spec.layers.map((entry) => [entry.name, entry]));
  const root = node("div", { class: `ck-explorer coursekit-${kind}-explorer` });
  const controls = {};
  const layer = menu("Layer", spec.layers.map((entry) => [`${entry.name}  ${shapeText(entry.shape)}`, entry.name]));
  controls.layer = layer.select;
  const rows = [node("div", { class: "ck-row" }, layer.wrapper)];
  if (kind !== "pattern" && spec.titles.length > 1) {
    const image = slider("Image", spec.titles.length - 1);
    controls.image = image.input;
    rows[0].prepend(image.wrapper);
  }
  if (kind === "activation" || kind === "pattern") {
    const channel = slider(kind === "pattern" ? "Filter" : "Channel", 0);
    controls.channel = channel.input;
    rows[0].append(channel.wrapper);
  }
  if (kind === "activation") {
    controls.grid = node("input", { type: "checkbox" });
    rows.push(node("div", { class: "ck-row" }, node("label", {}, controls.grid, "All channels")));
  }
  if (kind === "gradcam") {
    const klass = menu("Class", [["predicted", -1], ...spec.class_names.map((name, i) => [name, i])]);
    const blend = slider("Blend", 1, 0.05);
    controls.klass = klass.select;
    controls.blend = blend.input;
    rows.push(node("div", { class: "ck-row" }, klass.wrapper, blend.wrapper));
  }
  const status = node("div", { class: "ck-status" });
  const caption = node("div", { class: "ck-caption" });
  const canvas = node("canvas", { class: "ck-map" });
  const photo = node("img", { class: "ck-photo" });
  const grid = node("canvas", { class: "ck-grid" });
  const pictures = node("div", { class: "ck-pictures" }, canvas);
  if (kind === "activation") pictures.append(photo);
  root.append(...rows, status, caption, pictures, grid);
  if (spec.note) root.append(node("div", { class: "ck-status", text: spec.note }));
  el.append(root);
  const table = colourTable(spec.colours[kind === "gradcam" ? "magma" : "viridis"]);

  // Controls show the model's state; a move sets it (live: Python hears it and sends a frame).
  function showState() {
    const entry = layers[model.get("layer")];
    controls.layer.value = model.get("layer");
    if (controls.channel) {
      const count = kind === "pattern" ? spec.filters[entry.name] : entry.shape[2];
      controls.channel.max = count - 1;
      controls.channel.value = model.get("channel");
    }
    if (controls.image) controls.image.value = model.get("image");
    if (controls.klass) controls.klass.value = model.get("klass");
    if (controls.blend) controls.blend.value = model.get("blend");
    if (controls.grid) controls.grid.checked = model.get("grid");
    root.querySelectorAll("input[type=range]").forEach((input) => input.dispatchEvent(new Event("input")));
  }
  const number = (input) => Number(input.value);
  const reads = { layer: (s) => s.value, channel: number, image: number, klass: number,
                  blend: number, grid: (box) => box.checked };
  for (const [name, control] of Object.entries(controls)) {
    const kindOfEvent = control.tagName === "SELECT" || control.type === "checkbox" ? "change" : "input";
    control.addEventListener(kindOfEvent, () => {
      const value = reads[name](control);
      if (model.get(name) === value) return;
      model.set(name, value);
      if (name === "layer") { // the slider's range follows the layer: clamp here too
        const entry = layers[value];
        const count = kind === "pattern" ? spec.filters[value] : entry.shape[2];
        if (model.get("channel") > count - 1) model.set("channel", count - 1);
      }
      model.save_changes();
      showState();
      draw();
    });
  }

  let drawing = 0;
  async function draw() {
    const ticket = ++drawing, frame = model.get("frame"), state = {};
    for (const name of ["layer", "channel", "image", "klass", "blend", "grid"]) state[name] = model.get(name);
    const key = frameKey(spec, state);
    if (!frame || frame.key !== key) { // live: Python is computing it
      status.textContent = frame && frame.missing ? frame.missing : "computing...";
      return;
    }
    status.textContent = "";
    const title = spec.titles[state.image] ?? "";
    const entry = layers[state.layer];
    if (kind === "activation") {
      const sprite = await pixels(frame.sprite);
      if (ticket !== drawing) return;
      paintChannel(canvas, sprite, frame, state.channel, table);
      const scale = Math.max(1, Math.ceil(288 / Math.max(frame.height, frame.width)));
      canvas.style.width = `${frame.width * scale}px`;
      photo.src = spec.photos[state.image];
      photo.style.width = `${Math.min(288, frame.width * scale)}px`;
      const low = frame.low[state.channel], high = frame.high[state.channel];
      caption.textContent = `${title} · ${state.layer} ${shapeText(entry.shape)} · channel ${state.channel}\n` +
        (high > low ? `values ${low.toFixed(2)} to ${high.toFixed(2)} (dark to bright: viridis)` : `all values ${low.toFixed(2)} (silent)`);
      grid.style.display = state.grid ? "" : "none";
      if (state.grid) {
        paintSprite(grid, sprite, table);
        grid.style.width = `${Math.min(900, sprite.width * Math.max(1, Math.floor(900 / sprite.width)))}px`;
      }
    } else if (kind === "gradcam") {
      const [picture, heat] = await Promise.all([pixels(spec.photos[state.image]), pixels(frame.heat)]);
      if (ticket !== drawing) return;
      paintBlend(canvas, picture, heat, table, state.blend);
      canvas.style.width = `${Math.max(288, picture.width)}px`;
      const chosen = state.klass < 0 ? spec.predicted[state.image] : state.klass;
      caption.textContent = `${title}: model predicts ${spec.class_names[spec.predicted[state.image]]}\n` +
        `Grad-CAM heat (magma) for '${spec.class_names[chosen]}' at ${state.layer}, blended at ${state.blend.toFixed(2)}`;
    } else {
      const picture = await pixels(frame.picture);
      if (ticket !== drawing) return;
      canvas.width = picture.width;
      canvas.height = picture.height;
      canvas.getContext("2d").putImageData(picture, 0, 0);
      canvas.style.width = `${Math.max(224, picture.width)}px`;
      caption.textContent = `${state.layer}, filter ${state.channel}: the input that excites it most`;
    }
    root.dataset.drawn = JSON.stringify(state); // what is on screen now (tests wait for it)
  }

  const redraw = () => { showState(); draw(); };
  model.on("change:frame", draw);
  for (const name of ["layer", "channel", "image", "klass", "blend", "grid"]) model.on(`change:${name}`, redraw);
  redraw();
  return () => {
    model.off("change:frame", draw);
    for (const name of ["layer", "channel", "image", "klass", "blend", "grid"]) model.off(`change:${name}`, redraw);
  };
}

// A model without a kernel: the same get/set/on/save_changes, frames looked up in `frames`
// ({key: frame}; a key joins the values of spec.key with "|", "predicted" resolved).
export function staticModel(state, frames) {
  const values = { ...state }, listeners = new Map(), changed = new Set();
  const lookup = () => {
    const key = frameKey(values.spec, values);
    return frames[key] ?? { key, missing: "not precomputed for this page: run the notebook to see it" };
  };
  values.frame = lookup();
  return {
    get: (name) => values[name],
    set(name, value) { values[name] = value; changed.add(name); },
    save_changes() {
      const frame = lookup();
      if (frame !== values.frame) { values.frame = frame; changed.add("frame"); }
      const names = [...changed];
      changed.clear();
      for (const name of names) for (const callback of listeners.get(`change:${name}`) ?? []) callback();
    },
    on(event, callback) { listeners.set(event, [...(listeners.get(event) ?? []), callback]); },
    off(event, callback) { listeners.set(event, (listeners.get(event) ?? []).filter((c) => c !== callback)); },
    send() {},
  };
}

// Static pages: mount every explorer whose data is given.
export function mount(el, data) {
  return render({ model: staticModel(data.state, data.frames), el });
}

export default { render };
