// The jdiffusion page: a thin client of the server's A1111 API (/sdapi/v1). No libraries, no build.
'use strict';

const $ = (id) => document.getElementById(id);
const API = 'sdapi/v1/';

let samplers = [];   // GET /sdapi/v1/samplers
let lastSeed = null; // the seed of the last image made, for "Reuse last"
let selected = null; // the gallery entry shown: {src, infotext, seed}
let polling = null;

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: 'POST',
    headers: {'Content-Type': 'application/json'},
    body: JSON.stringify(body),
  };
  const res = await fetch(API + path, init);
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

async function generate(event) {
  event.preventDefault();
  showError('');
  $('generate').disabled = true;
  $('interrupt').disabled = false;
  setProgress(0, 'queued');
  $('preview').hidden = true;
  startPolling();
  try {
    const result = await api('txt2img', request());
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

// ------------------------------------------------------------------ start

$('form').addEventListener('submit', generate);
$('interrupt').addEventListener('click', interrupt);
$('model').addEventListener('change', switchModel);
$('seed-random').addEventListener('click', () => { $('seed').value = '-1'; });
$('seed-reuse').addEventListener('click', () => { if (lastSeed) $('seed').value = lastSeed; });
$('use-params').addEventListener('click', () => useSelected().catch((e) => showError(e.message)));
setUpDrop();
Promise.all([loadModels(), loadSamplers()]).catch((e) => showError('cannot reach the server: ' + e.message));
