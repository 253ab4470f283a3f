// The jdiffusion page: a thin client of the server's A1111 API (/sdapi/v1). No libraries, no build.
'use strict';

const $ = (id) => document.getElementById(id);
const API = 'sdapi/v1/';

let samplers = [];   // GET /sdapi/v1/samplers
let lastSeed = null; // the seed of the last image made, for "Reuse last"
let selected = null; // the gallery entry shown: {src, infotext, seed}
let polling = null;
let mode = 'txt2img'; // the tab: txt2img, img2img, inpaint, outpaint
let initImage = null; // {dataUrl, width, height} of the picture to start from

/** A route under /sdapi/v1/, or an absolute one such as /jdiffusion/v1/outpaint. */
async function api(path, body) {
  const init = body === undefined ? {} : {
    method: 'POST',
    headers: {'Content-Type': 'application/json'},
    body: JSON.stringify(body),
  };
  const res = await fetch(path.startsWith('/') ? path.substring(1) : API + path, init);
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { /* not JSON: shown as text below */ }
  if (!res.ok) {
    const detail = data && data.detail ? data.detail : text || res.statusText;
    const err = new Error(detail);
    err.field = data && data.field;
    throw err;
  }
  return data;
}

function showError(message) {
  $('error').textContent = message;
  $('error').hidden = !message;
}

function setStatus(text) {
  $('status').textContent = text;
}

// ------------------------------------------------------------------ models and samplers

async function loadModels() {
  const [models, options] = await Promise.all([api('sd-models'), api('options')]);
  const select = $('model');
  select.replaceChildren();
  for (const m of models) {
    const o = document.createElement('option');
    o.value = m.title;
    o.textContent = m.model_name;
    o.title = m.filename;
    select.append(o);
  }
  const current = models.find((m) => m.title === options.sd_model_checkpoint
      || options.sd_model_checkpoint.startsWith(m.title));
  if (current) select.value = current.title;
}

async function switchModel() {
  const select = $('model');
  select.disabled = true;
  setStatus('loading ' + select.selectedOptions[0].textContent + '...');
  try {
    await api('options', {sd_model_checkpoint: select.value});
    setStatus('');
  } catch (e) {
    setStatus('');
    showError(e.message);
  } finally {
    select.disabled = false;
    loadModels().catch(() => {});
  }
}

async function loadSamplers() {
  samplers = await api('samplers');
  const select = $('sampler');
  for (const s of samplers) {
    const o = document.createElement('option');
    o.value = s.name;
    o.textContent = s.name;
    select.append(o);
  }
  select.value = samplers.some((s) => s.name === 'Euler a') ? 'Euler a' : samplers[0].name;
}

// ------------------------------------------------------------------ generating

function request() {
  const seedText = $('seed').value.trim();
  const number = (id) => Number($(id).value);
  return {
    prompt: $('prompt').value,
    negative_prompt: $('negative_prompt').value,
    sampler_name: $('sampler').value,
    steps: number('steps'),
    cfg_scale: number('cfg_scale'),
    width: number('width'),
    height: number('height'),
    batch_size: number('batch_size'),
    n_iter: number('n_iter'),
    // seeds go past 2^53: sent as text, which the API reads exactly
    seed: seedText === '' ? -1 : seedText,
  };
}

/**
 * The route and body for the current tab: txt2img; img2img (init image, strength, resize mode); inpaint
 * (img2img plus the painted mask as a white-on-black PNG); outpaint (ours: /jdiffusion/v1/outpaint).
 */
function job() {
  const body = request();
  if (mode === 'txt2img') return ['txt2img', body];
  if (!initImage) throw Object.assign(new Error('choose an init image first'), {field: 'init-file'});
  body.init_images = [initImage.dataUrl];
  if (mode === 'outpaint') {
    const pixels = Number($('outpaint-pixels').value);
    for (const side of ['left', 'top', 'right', 'bottom']) body[side] = $('side-' + side).checked ? pixels : 0;
    body.overlap = Number($('overlap').value);
    const strength = $('outpaint-strength').value.trim();
    if (strength !== '') body.denoising_strength = Number(strength);
    delete body.width;
    delete body.height;
    return ['/jdiffusion/v1/outpaint', body];
  }
  body.denoising_strength = Number($('denoising_strength').value);
  body.resize_mode = Number($('resize_mode').value);
  if (mode === 'inpaint') {
    body.mask = maskDataUrl();
    body.mask_blur = Number($('mask_blur').value);
    body.inpainting_mask_invert = $('inpainting_mask_invert').checked ? 1 : 0;
    body.inpainting_fill = Number($('inpainting_fill').value);
    body.inpaint_full_res = $('inpaint_full_res').value === 'true';
    body.inpaint_full_res_padding = Number($('inpaint_full_res_padding').value);
  }
  return ['img2img', body];
}

async function generate(event) {
  event.preventDefault();
  showError('');
  let route, body;
  try {
    [route, body] = job();
  } catch (e) {
    showError(e.message);
    return;
  }
  $('generate').disabled = true;
  $('interrupt').disabled = false;
  setProgress(0, 'queued');
  $('preview').hidden = true;
  startPolling();
  try {
    const result = await api(route, body);
    const info = JSON.parse(result.info);
    result.images.forEach((b64, i) => addToGallery('data:image/png;base64,' + b64, info.infotexts[i], info.all_seeds[i]));
    if (info.all_seeds.length) {
      lastSeed = String(info.all_seeds[0]);
      $('seed-reuse').disabled = false;
    }
    setProgress(1, info.interrupted ? 'interrupted' : 'done');
  } catch (e) {
    setProgress(0, '');
    showError(e.message);
    if (e.field && $(e.field)) $(e.field).focus();
  } finally {
    stopPolling();
    $('preview').hidden = true;
    $('generate').disabled = false;
    $('interrupt').disabled = true;
  }
}

function setProgress(fraction, text) {
  $('bar').style.width = Math.round(fraction * 100) + '%';
  $('progress-text').textContent = text;
}

function startPolling() {
  stopPolling();
  polling = setInterval(async () => {
    try {
      const p = await api('progress');
      if (p.state.sampling_steps > 0) {
        const batch = p.state.job_count > 1 ? ` (batch ${p.state.job_no + 1}/${p.state.job_count})` : '';
        setProgress(p.progress, `step ${p.state.sampling_step}/${p.state.sampling_steps}${batch}`);
      }
      if (p.current_image) {
        $('preview').src = 'data:image/png;base64,' + p.current_image;
        $('preview').hidden = false;
        $('current').hidden = true;
        $('empty').hidden = true;
      }
    } catch (e) { /* the next poll tries again */ }
  }, 250);
}

function stopPolling() {
  if (polling) clearInterval(polling);
  polling = null;
}

async function interrupt() {
  $('interrupt').disabled = true;
  try { await api('interrupt', {}); } catch (e) { showError(e.message); }
}

// ------------------------------------------------------------------ gallery

function addToGallery(src, infotext, seed) {
  const img = document.createElement('img');
  img.src = src;
  img.alt = infotext.split('\n')[0];
  img.title = img.alt;
  const entry = {src, infotext, seed};
  img.addEventListener('click', () => show(entry, img));
  $('gallery').prepend(img);
  show(entry, img);
}

function show(entry, img) {
  selected = entry;
  for (const other of $('gallery').children) other.classList.toggle('selected', other === img);
  $('current').src = entry.src;
  $('current').hidden = false;
  $('preview').hidden = true;
  $('empty').hidden = true;
  $('infotext').textContent = entry.infotext;
  $('download').href = entry.src;
  $('download').download = `jdiffusion-${entry.seed}.png`;
  $('details').hidden = false;
  $('use-result').disabled = false;
}

// ------------------------------------------------------------------ restoring parameters

/** Fills the form from A1111's parsed infotext (png-info's "parameters"). */
function applyParameters(p) {
  if ('Prompt' in p) $('prompt').value = p.Prompt;
  if ('Negative prompt' in p) $('negative_prompt').value = p['Negative prompt'];
  if (p.Steps) $('steps').value = p.Steps;
  if (p['CFG scale']) $('cfg_scale').value = p['CFG scale'];
  if (p.Seed) $('seed').value = p.Seed;
  if (p['Size-1']) $('width').value = p['Size-1'];
  if (p['Size-2']) $('height').value = p['Size-2'];
  if (p.Sampler) {
    const schedule = p['Schedule type'] || 'Automatic';
    const name = schedule === 'Automatic' ? p.Sampler : p.Sampler + ' ' + schedule;
    const match = samplers.find((s) => s.name === name) || samplers.find((s) => s.name === p.Sampler);
    if (match) $('sampler').value = match.name;
  }
}

async function restoreFrom(file) {
  showError('');
  const b64 = await new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
  try {
    const info = await api('png-info', {image: b64});
    if (!info.info) {
      showError(`${file.name} carries no generation parameters`);
      return;
    }
    applyParameters(info.parameters);
    setStatus(`parameters restored from ${file.name}`);
  } catch (e) {
    showError(`${file.name}: ${e.message}`);
  }
}

async function useSelected() {
  if (!selected) return;
  const info = await api('png-info', {image: selected.src});
  applyParameters(info.parameters);
}

function setUpDrop() {
  let depth = 0;
  const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes('Files');
  window.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    depth++;
    $('drop').hidden = false;
  });
  window.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) $('drop').hidden = true;
  });
  window.addEventListener('dragover', (e) => {
    if (hasFiles(e)) e.preventDefault();
  });
  window.addEventListener('drop', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    $('drop').hidden = true;
    const file = e.dataTransfer.files[0];
    if (file) restoreFrom(file);
  });
}

// ------------------------------------------------------------------ img2img, inpaint, outpaint

function selectTab(name) {
  mode = name;
  for (const tab of document.querySelectorAll('.tab')) {
    const on = tab.dataset.tab === name;
    tab.classList.toggle('active', on);
    tab.setAttribute('aria-selected', String(on));
  }
  $('image-panel').hidden = name === 'txt2img';
  for (const el of document.querySelectorAll('[data-modes]')) el.hidden = !el.dataset.modes.split(' ').includes(name);
  $('mask-canvas').hidden = name !== 'inpaint';
  $('size-row').querySelectorAll('label:nth-child(-n+2)').forEach((l) => { l.hidden = name === 'outpaint'; });
}

function readAsDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

/** Shows the picture, clears the mask, and takes the output size from it (rounded down to multiples of 8). */
async function setInitImage(dataUrl) {
  const img = new Image();
  await new Promise((resolve, reject) => {
    img.onload = resolve;
    img.onerror = () => reject(new Error('the browser cannot read this image'));
    img.src = dataUrl;
  });
  const w = img.naturalWidth, h = img.naturalHeight;
  initImage = {dataUrl, width: w, height: h};
  for (const id of ['init-canvas', 'mask-canvas']) {
    $(id).width = w;
    $(id).height = h;
  }
  $('init-canvas').getContext('2d').drawImage(img, 0, 0);
  $('canvas-wrap').hidden = false;
  $('width').value = Math.max(8, w - w % 8);
  $('height').value = Math.max(8, h - h % 8);
  $('init-size').textContent = `${w}×${h}` + (w % 8 || h % 8 ? ' (output rounded down to multiples of 8)' : '');
}

// the mask: strokes on a transparent canvas over the picture; sent as white (painted) on black
let erasing = false;
let lastPoint = null;

function canvasPoint(event) {
  const canvas = $('mask-canvas');
  const r = canvas.getBoundingClientRect();
  return {x: (event.clientX - r.left) * canvas.width / r.width, y: (event.clientY - r.top) * canvas.height / r.height};
}

function stroke(from, to) {
  const ctx = $('mask-canvas').getContext('2d');
  ctx.globalCompositeOperation = erasing ? 'destination-out' : 'source-over';
  ctx.strokeStyle = ctx.fillStyle = '#ff3b3b';
  ctx.lineWidth = Number($('brush-size').value);
  ctx.lineCap = ctx.lineJoin = 'round';
  ctx.beginPath();
  ctx.moveTo(from.x, from.y);
  ctx.lineTo(to.x + 0.01, to.y);
  ctx.stroke();
}

function setUpMaskPainter() {
  const canvas = $('mask-canvas');
  canvas.addEventListener('pointerdown', (e) => {
    canvas.setPointerCapture(e.pointerId);
    lastPoint = canvasPoint(e);
    stroke(lastPoint, lastPoint);
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!lastPoint) return;
    const p = canvasPoint(e);
    stroke(lastPoint, p);
    lastPoint = p;
  });
  for (const end of ['pointerup', 'pointercancel']) canvas.addEventListener(end, () => { lastPoint = null; });
  const tool = (erase) => {
    erasing = erase;
    $('brush').classList.toggle('on', !erase);
    $('eraser').classList.toggle('on', erase);
    $('brush').setAttribute('aria-pressed', String(!erase));
    $('eraser').setAttribute('aria-pressed', String(erase));
  };
  $('brush').addEventListener('click', () => tool(false));
  $('eraser').addEventListener('click', () => tool(true));
  $('mask-clear').addEventListener('click', () => canvas.getContext('2d').clearRect(0, 0, canvas.width, canvas.height));
}

/** The mask as a PNG data URL at the picture's size: white where painted, black elsewhere. */
function maskDataUrl() {
  const src = $('mask-canvas');
  const strokes = src.getContext('2d').getImageData(0, 0, src.width, src.height).data;
  const out = document.createElement('canvas');
  out.width = src.width;
  out.height = src.height;
  const ctx = out.getContext('2d');
  const pixels = ctx.createImageData(src.width, src.height);
  let painted = 0;
  for (let i = 0; i < strokes.length; i += 4) {
    const v = strokes[i + 3] >= 128 ? 255 : 0;
    painted += v;
    pixels.data[i] = pixels.data[i + 1] = pixels.data[i + 2] = v;
    pixels.data[i + 3] = 255;
  }
  if (!painted) throw Object.assign(new Error('paint the part to repaint over the picture first'), {field: 'brush'});
  ctx.putImageData(pixels, 0, 0);
  return out.toDataURL('image/png');
}

function setUpImageTabs() {
  for (const tab of document.querySelectorAll('.tab')) tab.addEventListener('click', () => selectTab(tab.dataset.tab));
  $('init-file').addEventListener('change', async () => {
    const file = $('init-file').files[0];
    if (!file) return;
    showError('');
    try {
      await setInitImage(await readAsDataUrl(file));
    } catch (e) {
      showError(`${file.name}: ${e.message}`);
    }
  });
  $('use-result').addEventListener('click', () => {
    if (selected) setInitImage(selected.src).catch((e) => showError(e.message));
  });
  $('denoising_strength').addEventListener('input', () => {
    $('strength-value').textContent = Number($('denoising_strength').value).toFixed(2);
  });
  setUpMaskPainter();
  selectTab('txt2img');
}

// ------------------------------------------------------------------ start

$('form').addEventListener('submit', generate);
$('interrupt').addEventListener('click', interrupt);
$('model').addEventListener('change', switchModel);
$('seed-random').addEventListener('click', () => { $('seed').value = '-1'; });
$('seed-reuse').addEventListener('click', () => { if (lastSeed) $('seed').value = lastSeed; });
$('use-params').addEventListener('click', () => useSelected().catch((e) => showError(e.message)));
setUpDrop();
setUpImageTabs();
Promise.all([loadModels(), loadSamplers()]).catch((e) => showError('cannot reach the server: ' + e.message));
