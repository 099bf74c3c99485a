/* The browser image viewer (templates/imaging/viewer.html): series from QIDO-RS, each image a PNG rendered by
   WADO-RS with the chosen window, drawn on a canvas with zoom and pan; lengths measured in mm from the
   instance's PixelSpacing (WADO-RS metadata), drawn on an overlay canvas. Every request goes to /dicomweb with
   the session cookie, where the access policy is applied again. Key images are kept in this browser only
   (localStorage, by study UID). Images around the current one are fetched ahead and kept decoded in memory,
   because the server answers no-store. Each frame of a multi-frame instance (enhanced CT/MR, ultrasound cine,
   multi-frame secondary capture) is a scroll position of its own; how many frames an instance has comes from its
   metadata, asked for only when its SOP class may hold more than one frame. */
(function () {
  "use strict";
  var root = document.getElementById("dicom-viewer");
  if (!root) { return; }
  var words = JSON.parse(root.dataset.words || "{}");
  var readOnly = root.dataset.readOnly === "true";
  var studyUid = root.dataset.study;
  var base = "/dicomweb/studies/" + encodeURIComponent(studyUid);
  var PREFETCH = 4, CACHE_MAX = 160, ZOOM_MIN = 0.25, ZOOM_MAX = 16, SWIPE_STEP = 28, META_AT_ONCE = 4;
  /* Cine is offered for any series with a multi-frame instance, and for stacks of single images this long. */
  var CINE_MIN_IMAGES = 20, CINE_FPS = 10, CINE_FPS_MAX = 30;
  var TAG = { number: "00200013", seriesNumber: "00200011", seriesDescription: "0008103E", series: "0020000E",
    sop: "00080018", sopClass: "00080016", count: "00201209", modality: "00080060", spacing: "00280030",
    imagerSpacing: "00181164", center: "00281050", width: "00281051", rows: "00280010", columns: "00280011",
    frames: "00280008", frameTime: "00181063", cineRate: "00180040", displayRate: "00082144",
    sharedGroups: "52009229", pixelMeasures: "00289110" };
  /* SOP classes whose instances are always one frame (PS3.3 has no NumberOfFrames in their IODs): CR, DX, MG,
     intra-oral, CT, MR, single-frame US, SC, PET. Any other class may hold several and its metadata is read. */
  var SINGLE_FRAME = new Set(["1.2.840.10008.5.1.4.1.1.1", "1.2.840.10008.5.1.4.1.1.1.1", "1.2.840.10008.5.1.4.1.1.1.1.1",
    "1.2.840.10008.5.1.4.1.1.1.2", "1.2.840.10008.5.1.4.1.1.1.2.1", "1.2.840.10008.5.1.4.1.1.1.3",
    "1.2.840.10008.5.1.4.1.1.1.3.1", "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.4",
    "1.2.840.10008.5.1.4.1.1.6.1", "1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.5.1.4.1.1.128"]);

  var el = {
    status: document.getElementById("dv-status"), seriesList: document.getElementById("dv-series-list"),
    stage: document.getElementById("dv-stage"), image: document.getElementById("dv-image"),
    overlay: document.getElementById("dv-overlay"), slider: document.getElementById("dv-slider"),
    position: document.getElementById("dv-position"), windowNow: document.getElementById("dv-window-now"),
    center: document.getElementById("dv-center"), width: document.getElementById("dv-width"),
    measures: document.getElementById("dv-measures"), keys: document.getElementById("dv-keys"),
    keyButton: document.getElementById("dv-key"), windowForm: document.getElementById("dv-window-form"),
    cine: document.getElementById("dv-cine")
  };
  /* positions: one per frame of the selected series, in instance order ({ sop, series, frame, frames, image,
     images }, frame and image counted from 1); index: the shown one. */
  var state = {
    series: [], seriesIndex: -1, positions: [], index: 0, window: null, zoom: 1, panX: 0, panY: 0,
    tool: "pan", picture: null, meta: {}, metaAsked: {}, lines: {}, drag: null, cine: null
  };
  var cache = new Map();
  var keyStore = "smartcare.viewer.keyimages." + studyUid;

  function say(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, function (all, name) {
      return values && values[name] !== undefined ? values[name] : all;
    });
  }

  function status(text) { el.status.textContent = text; el.status.hidden = !text; }

  function value(item, tag) {
    var member = item && item[tag];
    return member && member.Value ? member.Value : [];
  }

  function first(item, tag) { return value(item, tag)[0]; }

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/dicom+json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); });
  }

  function instanceBase(series, sop) {
    return base + "/series/" + encodeURIComponent(series) + "/instances/" + encodeURIComponent(sop);
  }

  function frameUrl(position, win, viewport) {
    var query = [];
    /* Numbers only, so the commas go as they are (window=-600,1500,linear). */
    if (win) { query.push("window=" + Number(win.center) + "," + Number(win.width) + ",linear"); }
    if (viewport) { query.push("viewport=" + viewport + "," + viewport); }
    var path = position.frames > 1 ? "/frames/" + Number(position.frame) + "/rendered" : "/rendered";
    return instanceBase(position.series, position.sop) + path + (query.length ? "?" + query.join("&") : "");
  }

  /* Measurements and key images belong to one frame of one instance. */
  function positionKey(position) { return position.sop + "#" + (position.frame || 1); }

  function picture(url) {
    if (cache.has(url)) { return cache.get(url); }
    var img = new Image();
    var loaded = new Promise(function (resolve, reject) {
      img.onload = function () { resolve(img); };
      img.onerror = function () { cache.delete(url); reject(new Error("image")); };
    });
    img.src = url;
    cache.set(url, loaded);
    if (cache.size > CACHE_MAX) { cache.delete(cache.keys().next().value); }
    return loaded;
  }

  /* --- series and instances ------------------------------------------------------------------------------ */

  function loadSeries() {
    status(words.loading);
    getJson(base + "/series").then(function (found) {
      state.series = found.map(function (s) {
        return { uid: first(s, TAG.series), number: first(s, TAG.seriesNumber), modality: first(s, TAG.modality) || "",
          description: first(s, TAG.seriesDescription) || "", count: first(s, TAG.count) || 0, instances: null };
      }).sort(function (a, b) { return (a.number || 0) - (b.number || 0); });
      if (!state.series.length) { status(words.none); return; }
      state.series.forEach(addThumbnail);
      selectSeries(0);
    }).catch(function () { status(words.failed); });
  }

  function instancesOf(series) {
    if (series.instances) { return Promise.resolve(series.instances); }
    return getJson(base + "/series/" + encodeURIComponent(series.uid) + "/instances").then(function (found) {
      series.instances = found.map(function (i) {
        return { sop: first(i, TAG.sop), number: Number(first(i, TAG.number) || 0), series: series.uid,
          sopClass: first(i, TAG.sopClass) || "" };
      }).sort(function (a, b) { return a.number - b.number; });
      return series.instances;
    });
  }

  /* The series' scroll positions, once the frame counts of the instances that may have several are known (read
     META_AT_ONCE at a time). An instance whose metadata cannot be read is shown by its first frame. */
  function positionsOf(series) {
    if (series.positions) { return Promise.resolve(series.positions); }
    return instancesOf(series).then(function (list) {
      var asked = list.filter(function (i) { return !SINGLE_FRAME.has(i.sopClass); });
      var next = 0;
      function worker() {
        if (next >= asked.length) { return Promise.resolve(); }
        var instance = asked[next];
        next += 1;
        return metaOf(instance).catch(function () { return null; }).then(worker);
      }
      var workers = [];
      for (var w = 0; w < Math.min(META_AT_ONCE, asked.length); w += 1) { workers.push(worker()); }
      return Promise.all(workers).then(function () {
        var positions = [];
        list.forEach(function (instance, i) {
          var frames = SINGLE_FRAME.has(instance.sopClass) ? 1 : (state.meta[instance.sop] || {}).frames || 1;
          for (var f = 1; f <= frames; f += 1) {
            positions.push({ sop: instance.sop, series: instance.series, frame: f, frames: frames, image: i + 1,
              images: list.length });
          }
        });
        series.positions = positions;
        series.multiframe = positions.length > list.length;
        if (series.multiframe && series.label) { series.label.textContent += " · " + say(words.frames, { n: positions.length }); }
        return positions;
      });
    });
  }

  function addThumbnail(series, index) {
    var item = document.createElement("li");
    var button = document.createElement("button");
    button.type = "button";
    button.className = "dv-thumb outline";
    button.dataset.index = index;
    var img = document.createElement("img");
    img.alt = "";
    img.width = 96;
    img.height = 96;
    var label = document.createElement("span");
    label.textContent = say(words.series, { n: series.number || index + 1 }) + " · " + series.modality +
      (series.description ? " · " + series.description : "") + " · " + say(words.images, { n: series.count });
    series.label = label;
    button.append(img, label);
    button.addEventListener("click", function () { selectSeries(index); });
    item.append(button);
    el.seriesList.append(item);
    instancesOf(series).then(function (list) {
      if (list.length) { img.src = frameUrl({ sop: list[0].sop, series: list[0].series, frames: 1 }, null, 96); }
    }).catch(function () { label.textContent += " · " + words.failed; });
  }

  function selectSeries(index) {
    stopCine();
    state.seriesIndex = index;
    el.seriesList.querySelectorAll(".dv-thumb").forEach(function (b) {
      b.setAttribute("aria-current", String(Number(b.dataset.index) === index));
    });
    var series = state.series[index];
    return positionsOf(series).then(function (list) {
      if (state.seriesIndex !== index) { return; }
      state.positions = list;
      if (!list.length) { status(words.none); return; }
      el.slider.max = String(list.length);
      el.slider.disabled = list.length < 2;
      el.cine.hidden = list.length < 2 || !(series.multiframe || list.length >= CINE_MIN_IMAGES);
      resetView();
      show(0);
    }).catch(function () { status(words.failed); });
  }

  /* --- showing an image ---------------------------------------------------------------------------------- */

  function current() { return state.positions[state.index]; }

  /* "Image i of N" for a stack of images, "Frame f of F" within a multi-frame instance, both when both count. */
  function describe(position) {
    var parts = [];
    if (position.images > 1 || position.frames < 2) { parts.push(say(words.position, { n: position.image, m: position.images })); }
    if (position.frames > 1) { parts.push(say(words.frame, { n: position.frame, m: position.frames })); }
    return parts.join(" · ");
  }

  /* The shown position's picture, drawn once it has arrived; the promise settles either way (for cine). */
  function show(index) {
    if (!state.positions.length) { return Promise.resolve(); }
    state.index = Math.max(0, Math.min(state.positions.length - 1, index));
    var position = current();
    var where = describe(position);
    el.slider.value = String(state.index + 1);
    el.slider.setAttribute("aria-valuetext", where);
    el.position.textContent = where;
    el.image.setAttribute("aria-label", say(words.image, { n: position.image,
      s: state.series[state.seriesIndex].number || state.seriesIndex + 1 }) +
      (position.frames > 1 ? " · " + say(words.frame, { n: position.frame, m: position.frames }) : ""));
    updateKeyButton();
    loadMeta(position);
    var url = frameUrl(position, state.window);
    prefetch();
    return picture(url).then(function (img) {
      if (current() !== position || frameUrl(position, state.window) !== url) { return; }
      state.picture = img;
      status("");
      draw();
    }).catch(function () { stopCine(); status(words.failed); });
  }

  function prefetch() {
    var ahead = state.cine ? PREFETCH * 2 : PREFETCH, count = state.positions.length;
    for (var step = 1; step <= ahead; step += 1) {
      var around = state.cine ? [(state.index + step) % count] : [state.index + step, state.index - step];
      around.forEach(function (i) {
        if (i >= 0 && i < count) {
          picture(frameUrl(state.positions[i], state.window)).catch(function () { return null; });
        }
      });
    }
  }

  function sharedGroup(m, tag) {
    var groups = value(m, TAG.sharedGroups)[0];
    return groups ? value(groups, tag)[0] : null;
  }

  /* An instance's metadata, read once: pixel spacing (top level, else the shared functional groups of enhanced
     images), its own window, matrix, number of frames and playing speed. */
  function metaOf(instance) {
    if (!state.metaAsked[instance.sop]) {
      state.metaAsked[instance.sop] = getJson(instanceBase(instance.series, instance.sop) + "/metadata").then(function (found) {
        var m = found[0] || {};
        var measures = sharedGroup(m, TAG.pixelMeasures);
        var spacing = value(m, TAG.spacing).length ? value(m, TAG.spacing) : value(m, TAG.imagerSpacing);
        if (!spacing.length && measures) { spacing = value(measures, TAG.spacing); }
        var frameTime = Number(first(m, TAG.frameTime));
        var fps = Number(first(m, TAG.displayRate)) || Number(first(m, TAG.cineRate)) ||
          (frameTime > 0 ? 1000 / frameTime : 0);
        state.meta[instance.sop] = {
          spacing: spacing.length === 2 ? [Number(spacing[0]), Number(spacing[1])] : null,
          center: Number(first(m, TAG.center)), width: Number(first(m, TAG.width)),
          rows: Number(first(m, TAG.rows)) || 0, columns: Number(first(m, TAG.columns)) || 0,
          frames: Math.max(1, Math.floor(Number(first(m, TAG.frames)) || 1)),
          fps: fps > 0 && isFinite(fps) ? Math.min(CINE_FPS_MAX, fps) : 0
        };
        return state.meta[instance.sop];
      }).catch(function (error) { delete state.metaAsked[instance.sop]; throw error; });
    }
    return state.metaAsked[instance.sop];
  }

  function loadMeta(position) {
    if (state.meta[position.sop]) { showWindow(); return; }
    metaOf(position).then(function () {
      if (current() && current().sop === position.sop) { showWindow(); drawOverlay(); }
    }).catch(function () { return null; });
  }

  /* --- cine: the series' positions played in turn, each shown before the next is asked for --------------- */

  function cineButton() {
    var playing = Boolean(state.cine);
    el.cine.querySelector(".dv-cine-icon").textContent = playing ? "❚❚" : "▶";
    el.cine.querySelector(".dv-cine-text").textContent = playing ? words.pause : words.play;
    /* The slice counter would otherwise be read out at every frame. */
    el.position.setAttribute("aria-live", playing ? "off" : "polite");
  }

  function playCine() {
    if (state.cine || state.positions.length < 2) { return; }
    var cine = state.cine = { timer: null };
    cineButton();
    (function step() {
      if (state.cine !== cine) { return; }
      var started = performance.now();
      var fps = (state.meta[current().sop] || {}).fps || CINE_FPS;
      show((state.index + 1) % state.positions.length).then(function () {
        if (state.cine !== cine) { return; }
        cine.timer = setTimeout(step, Math.max(0, 1000 / fps - (performance.now() - started)));
      });
    }());
  }

  function stopCine() {
    if (!state.cine) { return; }
    clearTimeout(state.cine.timer);
    state.cine = null;
    cineButton();
    el.position.textContent = current() ? describe(current()) : "";
  }

  function toggleCine() { if (state.cine) { stopCine(); } else { playCine(); } }

  /* Scrolling by hand stops the film. */
  function go(index) { stopCine(); return show(index); }

  function shownWindow() {
    if (state.window) { return state.window; }
    var m = state.meta[current().sop];
    return m && isFinite(m.center) && isFinite(m.width) ? { center: m.center, width: m.width } : null;
  }

  function showWindow() {
    var win = shownWindow();
    /* An image without a window of its own must not keep showing the previous image's numbers. */
    if (document.activeElement !== el.center && document.activeElement !== el.width) {
      el.center.value = win ? Math.round(win.center) : "";
      el.width.value = win ? Math.round(win.width) : "";
    }
    if (!win) { el.windowNow.textContent = ""; return; }
    el.windowNow.textContent = say(words.window, { c: Math.round(win.center), w: Math.round(win.width) });
  }

  function setWindow(win, preset) {
    state.window = win;
    root.querySelectorAll("[data-preset]").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.preset === (preset || "")));
    });
    showWindow();
    show(state.index);
  }

  /* --- drawing ------------------------------------------------------------------------------------------- */

  function fitCanvas(canvas) {
    var ratio = window.devicePixelRatio || 1;
    var w = Math.max(1, Math.round(el.stage.clientWidth * ratio));
    var h = Math.max(1, Math.round(el.stage.clientHeight * ratio));
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  }

  function placement() {
    var img = state.picture;
    var ratio = window.devicePixelRatio || 1;
    var cw = el.image.width, ch = el.image.height;
    var scale = Math.min(cw / img.naturalWidth, ch / img.naturalHeight) * state.zoom;
    return { scale: scale, x: (cw - img.naturalWidth * scale) / 2 + state.panX * ratio,
      y: (ch - img.naturalHeight * scale) / 2 + state.panY * ratio, ratio: ratio };
  }

  function draw() {
    fitCanvas(el.image);
    var ctx = el.image.getContext("2d");
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, el.image.width, el.image.height);
    if (state.picture) {
      var p = placement();
      ctx.imageSmoothingEnabled = state.zoom < 3;
      ctx.drawImage(state.picture, p.x, p.y, state.picture.naturalWidth * p.scale, state.picture.naturalHeight * p.scale);
    }
    drawOverlay();
  }

  function toImage(event) {
    var rect = el.overlay.getBoundingClientRect();
    var p = placement();
    return { x: ((event.clientX - rect.left) * p.ratio - p.x) / p.scale,
      y: ((event.clientY - rect.top) * p.ratio - p.y) / p.scale };
  }

  function toCanvas(point, p) { return { x: p.x + point.x * p.scale, y: p.y + point.y * p.scale }; }

  function length(line) {
    var m = state.meta[line.sop] || {};
    var img = state.picture;
    /* The rendered picture may be smaller than the stored matrix; PixelSpacing is per stored pixel. */
    var sx = m.columns && img ? m.columns / img.naturalWidth : 1, sy = m.rows && img ? m.rows / img.naturalHeight : 1;
    var dx = (line.b.x - line.a.x) * sx, dy = (line.b.y - line.a.y) * sy;
    if (!m.spacing) { return { text: Math.hypot(dx, dy).toFixed(1) + " px", mm: false }; }
    return { text: Math.hypot(dx * m.spacing[1], dy * m.spacing[0]).toFixed(1) + " mm", mm: true };
  }

  function drawOverlay() {
    fitCanvas(el.overlay);
    var ctx = el.overlay.getContext("2d");
    ctx.clearRect(0, 0, el.overlay.width, el.overlay.height);
    if (!state.picture || !current()) { return; }
    var p = placement();
    var lines = (state.lines[positionKey(current())] || []).concat(state.drag && state.drag.line ? [state.drag.line] : []);
    ctx.lineWidth = 2 * p.ratio;
    ctx.font = (14 * p.ratio) + "px system-ui, sans-serif";
    lines.forEach(function (line) {
      var a = toCanvas(line.a, p), b = toCanvas(line.b, p);
      ctx.strokeStyle = "#ffd400";
      ctx.beginPath(); ctx.moveTo(a.x, a.y); ctx.lineTo(b.x, b.y); ctx.stroke();
      [a, b].forEach(function (end) { ctx.beginPath(); ctx.arc(end.x, end.y, 3 * p.ratio, 0, 2 * Math.PI); ctx.stroke(); });
      var text = length(line).text;
      ctx.lineWidth = 3 * p.ratio; ctx.strokeStyle = "#000"; ctx.fillStyle = "#ffd400";
      ctx.strokeText(text, b.x + 6 * p.ratio, b.y - 6 * p.ratio);
      ctx.fillText(text, b.x + 6 * p.ratio, b.y - 6 * p.ratio);
      ctx.lineWidth = 2 * p.ratio;
    });
    listMeasures();
  }

  function listMeasures() {
    el.measures.textContent = "";
    (state.lines[positionKey(current())] || []).forEach(function (line) {
      var item = document.createElement("li");
      var found = length(line);
      item.className = "dv-measure";
      item.textContent = found.text + (found.mm ? "" : " — " + words.noSpacing);
      el.measures.append(item);
    });
  }

  /* --- zoom, pan, window, measuring with the mouse and touch --------------------------------------------- */

  function resetView() { state.zoom = 1; state.panX = 0; state.panY = 0; if (state.picture) { draw(); } }

  function zoomBy(factor) {
    state.zoom = Math.max(ZOOM_MIN, Math.min(ZOOM_MAX, state.zoom * factor));
    draw();
  }

  function startDrag(event) {
    if (!state.picture) { return; }
    el.stage.focus({ preventScroll: true });
    el.overlay.setPointerCapture(event.pointerId);
    var drag = { x: event.clientX, y: event.clientY, panX: state.panX, panY: state.panY, steps: 0,
      touch: event.pointerType === "touch" };
    if (event.button === 2) {
      drag.kind = "window";
      drag.win = shownWindow() || { center: 40, width: 400 };
    } else if (state.tool === "measure") {
      var at = toImage(event);
      drag.kind = "measure";
      drag.line = { sop: current().sop, key: positionKey(current()), a: at, b: at };
    } else {
      drag.kind = drag.touch && state.zoom <= 1 ? "swipe" : "pan";
    }
    state.drag = drag;
    event.preventDefault();
  }

  function moveDrag(event) {
    var drag = state.drag;
    if (!drag) { return; }
    var dx = event.clientX - drag.x, dy = event.clientY - drag.y;
    if (drag.kind === "pan") {
      state.panX = drag.panX + dx; state.panY = drag.panY + dy; draw();
    } else if (drag.kind === "measure") {
      drag.line.b = toImage(event); drawOverlay();
    } else if (drag.kind === "swipe") {
      var steps = Math.trunc((Math.abs(dy) >= Math.abs(dx) ? -dy : -dx) / SWIPE_STEP);
      if (steps !== drag.steps) { go(state.index + steps - drag.steps); drag.steps = steps; }
    } else if (drag.kind === "window") {
      var win = { center: Math.round(drag.win.center - dy * 2), width: Math.max(1, Math.round(drag.win.width + dx * 4)) };
      state.window = win;
      showWindow();
      clearTimeout(drag.timer);
      drag.timer = setTimeout(function () { setWindow(win, ""); }, 120);
    }
  }

  function endDrag() {
    var drag = state.drag;
    state.drag = null;
    if (!drag) { return; }
    if (drag.kind === "measure" && Math.hypot(drag.line.b.x - drag.line.a.x, drag.line.b.y - drag.line.a.y) > 1) {
      (state.lines[drag.line.key] = state.lines[drag.line.key] || []).push(drag.line);
      status(say(words.measured, { v: length(drag.line).text }));
    } else if (drag.kind === "window") {
      clearTimeout(drag.timer);
      setWindow(state.window, "");
    }
    drawOverlay();
  }

  function setTool(tool) {
    state.tool = tool;
    root.querySelectorAll("[data-tool]").forEach(function (b) { b.setAttribute("aria-pressed", String(b.dataset.tool === tool)); });
    el.stage.classList.toggle("dv-stage--measure", tool === "measure");
  }

  /* --- key images (kept in this browser) ----------------------------------------------------------------- */

  function keyImages() {
    try { return JSON.parse(localStorage.getItem(keyStore) || "[]"); } catch (e) { return []; }
  }

  function updateKeyButton() {
    if (!el.keyButton || !current()) { return; }
    var shown = positionKey(current());
    el.keyButton.setAttribute("aria-pressed", String(keyImages().some(function (k) { return positionKey(k) === shown; })));
    listKeys();
  }

  function toggleKey() {
    var position = current();
    if (!position) { return; }
    var keys = keyImages();
    var kept = keys.filter(function (k) { return positionKey(k) !== positionKey(position); });
    if (kept.length === keys.length) {
      kept.push({ sop: position.sop, series: position.series, seriesIndex: state.seriesIndex, index: state.index,
        frame: position.frame, frames: position.frames, image: position.image, images: position.images });
    }
    try { localStorage.setItem(keyStore, JSON.stringify(kept)); } catch (e) { status(words.failed); }
    updateKeyButton();
  }

  function listKeys() {
    if (!el.keys) { return; }
    el.keys.textContent = "";
    var keys = keyImages();
    if (!keys.length) { var none = document.createElement("li"); none.textContent = words.noKeys; el.keys.append(none); }
    keys.forEach(function (k) {
      var item = document.createElement("li");
      var link = document.createElement("button");
      link.type = "button";
      link.className = "outline dv-key-link";
      var series = state.series[k.seriesIndex] || {};
      /* Key images kept before frames were told apart have no image or frame number: they are first frames. */
      var where = describe({ image: k.image || k.index + 1, images: k.images || series.count || "?", frame: k.frame || 1,
        frames: k.frames || 1 });
      link.textContent = words.key + ": " + say(words.series, { n: series.number || k.seriesIndex + 1 }) + " · " + where;
      link.addEventListener("click", function () {
        if (k.seriesIndex === state.seriesIndex) { go(positionOf(k)); return; }
        selectSeriesAt(k.seriesIndex, k);
      });
      item.append(link);
      el.keys.append(item);
    });
  }

  /* Where a kept key image is among the shown series' positions (found by instance and frame). */
  function positionOf(k) {
    var wanted = positionKey(k);
    var found = state.positions.findIndex(function (p) { return positionKey(p) === wanted; });
    return found >= 0 ? found : k.index;
  }

  function selectSeriesAt(seriesIndex, k) {
    if (!state.series[seriesIndex]) { return; }
    selectSeries(seriesIndex).then(function () { if (state.seriesIndex === seriesIndex) { show(positionOf(k)); } });
  }

  /* --- wiring -------------------------------------------------------------------------------------------- */

  root.querySelectorAll("[data-preset]").forEach(function (button) {
    button.addEventListener("click", function () {
      var preset = button.dataset.preset;
      setWindow(preset === "default" ? null : { center: Number(button.dataset.center), width: Number(button.dataset.width) },
        preset);
    });
  });
  el.windowForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var center = Number(el.center.value), width = Number(el.width.value);
    if (el.center.value === "" || el.width.value === "" || !isFinite(center) || !isFinite(width) || width < 1) {
      el.width.setAttribute("aria-invalid", "true");
      return;
    }
    el.width.removeAttribute("aria-invalid");
    setWindow({ center: Math.round(center), width: Math.round(width) }, "");
  });
  root.querySelectorAll("[data-tool]").forEach(function (b) { b.addEventListener("click", function () { setTool(b.dataset.tool); }); });
  root.querySelectorAll("[data-action]").forEach(function (button) {
    button.addEventListener("click", function () {
      var action = button.dataset.action;
      if (action === "zoom-in") { zoomBy(1.25); }
      if (action === "zoom-out") { zoomBy(0.8); }
      if (action === "reset") { resetView(); setWindow(null, "default"); }
      if (action === "clear" && current()) { delete state.lines[positionKey(current())]; drawOverlay(); }
    });
  });
  if (el.keyButton) { el.keyButton.addEventListener("click", toggleKey); }
  el.slider.addEventListener("input", function () { go(Number(el.slider.value) - 1); });
  el.cine.addEventListener("click", toggleCine);
  el.overlay.addEventListener("pointerdown", startDrag);
  el.overlay.addEventListener("pointermove", moveDrag);
  el.overlay.addEventListener("pointerup", endDrag);
  el.overlay.addEventListener("pointercancel", endDrag);
  el.overlay.addEventListener("contextmenu", function (event) { event.preventDefault(); });
  el.stage.addEventListener("wheel", function (event) {
    event.preventDefault();
    if (event.ctrlKey) { zoomBy(event.deltaY < 0 ? 1.1 : 1 / 1.1); return; }
    go(state.index + (event.deltaY > 0 ? 1 : -1));
  }, { passive: false });
  el.stage.addEventListener("keydown", function (event) {
    var moves = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1, PageDown: 10, PageUp: -10 };
    if (moves[event.key] !== undefined) { go(state.index + moves[event.key]); }
    else if (event.key === "Home") { go(0); }
    else if (event.key === "End") { go(state.positions.length - 1); }
    else if (event.key === " " && !el.cine.hidden) { toggleCine(); }
    else if (event.key === "+" || event.key === "=") { zoomBy(1.25); }
    else if (event.key === "-") { zoomBy(0.8); }
    else if (event.key === "r" || event.key === "R") { resetView(); }
    else if (event.key === "m" || event.key === "M") { setTool(state.tool === "measure" ? "pan" : "measure"); }
    else if ((event.key === "k" || event.key === "K") && !readOnly) { toggleKey(); }
    else { return; }
    event.preventDefault();
  });
  window.addEventListener("resize", function () { if (state.picture) { draw(); } });
  setTool("pan");
  loadSeries();
}());
