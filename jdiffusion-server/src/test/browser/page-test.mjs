// Drives the jdiffusion page in headless Chromium as a person would: type a prompt, generate (once
// interrupted, once to the end), send the picture to the inpaint tab, paint a mask stroke with the
// mouse, inpaint. Run by BrowserTest (Java), which starts the server and checks what this prints.
//
// Environment: JDIFFUSION_URL (the page), CHROMIUM (the browser executable), ARTIFACTS (a folder for a
// screenshot and the browser's console when something fails).
//
// Waiting is done here (each wait fails after a timeout, naming what it waited for); the measurements
// go to stdout as one JSON line starting with "RESULT " and the Java test makes the assertions.
import {chromium} from 'playwright-core';
import {mkdirSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';

const url = required('JDIFFUSION_URL');
const executablePath = required('CHROMIUM');
const artifacts = required('ARTIFACTS');
const WAIT_MS = 120_000; // a shared 2-core CI machine is slow; the tiny model itself takes well under a second

// the size asked for: not square, so a swapped width and height shows
const WIDTH = 128, HEIGHT = 64;
// the mask stroke, in picture pixels: a horizontal line in the left part of the picture
const STROKE = {x0: 16, x1: 40, y: 32, brush: 16};
// far from the stroke: beyond the brush radius plus three mask-blur sigmas (blur 4) and then some
const FAR_X = 80;

/** Pixels of an image URL as RGBA, decoded by the page's own canvas. */
const PIXELS_IN_PAGE = `async (src) => {
  const img = new Image();
  img.src = src;
  await img.decode();
  const c = document.createElement('canvas');
  c.width = img.naturalWidth;
  c.height = img.naturalHeight;
  const ctx = c.getContext('2d');
  ctx.drawImage(img, 0, 0);
  return {width: c.width, height: c.height, data: ctx.getImageData(0, 0, c.width, c.height).data};
}`;

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function log(message) {
  console.log(`[page-test] ${message}`);
}

const browser = await chromium.launch({
  executablePath,
  headless: true, // Playwright adds --headless and runs with its own temporary --user-data-dir
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  timeout: WAIT_MS,
});
const consoleLines = [];
let page;
try {
  log(`chromium ${browser.version()} at ${executablePath}`);
  page = await browser.newPage({viewport: {width: 1280, height: 900}});
  page.setDefaultTimeout(WAIT_MS);
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  const result = await run(page);
  console.log('RESULT ' + JSON.stringify(result));
} catch (e) {
  mkdirSync(artifacts, {recursive: true});
  if (page) await page.screenshot({path: join(artifacts, 'failure.png'), fullPage: true}).catch(() => {});
  writeFileSync(join(artifacts, 'console.txt'), consoleLines.join('\n') + '\n');
  console.error(`[page-test] FAILED: ${e.stack || e}`);
  console.error(`[page-test] browser console:\n${consoleLines.join('\n')}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}

async function run(page) {
  const result = {};
  await page.goto(url);
  // the page is ready when it has asked the server for its samplers and models
  await page.waitForFunction(() => document.querySelectorAll('#sampler option').length > 0
      && document.querySelectorAll('#model option').length > 0);
  result.samplers = await page.locator('#sampler option').count();

  await page.locator('#prompt').pressSequentially('a red apple on a wooden table');
  await page.fill('#width', String(WIDTH));
  await page.fill('#height', String(HEIGHT));
  await page.fill('#seed', '1234');

  // 1. a long run: the progress bar and the live preview appear, and Interrupt stops it
  await page.fill('#steps', '1000');
  await page.click('#generate');
  await page.waitForFunction(() => /^step \d+\/1000$/.test(document.getElementById('progress-text').textContent)
      && !document.getElementById('preview').hidden
      && document.getElementById('preview').src.startsWith('data:image/png;base64,'));
  result.preview = await decodedSize(page, '#preview');
  log(`progress "${await page.textContent('#progress-text')}", preview ${JSON.stringify(result.preview)}`);
  await page.click('#interrupt');
  await page.waitForFunction(() => document.querySelectorAll('#gallery img').length === 1);
  result.interruptedProgressText = await page.textContent('#progress-text');
  result.interruptedInfotext = await page.textContent('#infotext');
  log(`after interrupt: "${result.interruptedProgressText}"`);

  // 2. a whole run
  await page.fill('#steps', '8');
  await page.click('#generate');
  await page.waitForFunction(() => document.querySelectorAll('#gallery img').length === 2
      && document.getElementById('progress-text').textContent === 'done');
  result.txt2img = await decodedSize(page, '#gallery img:first-child');
  result.txt2imgInfotext = await page.textContent('#infotext');
  result.errorShown = !(await page.locator('#error').isHidden());
  log(`txt2img image ${JSON.stringify(result.txt2img)}`);
  const original = await page.getAttribute('#gallery img:first-child', 'src');

  // 3. inpaint: the shown result goes to the inpaint tab, a stroke is painted with the mouse
  await page.click('.tab[data-tab="inpaint"]');
  await page.click('#use-result');
  await page.waitForFunction(() => !document.getElementById('canvas-wrap').hidden
      && document.getElementById('init-canvas').width > 0);
  result.initSizeText = await page.textContent('#init-size');
  await setRange(page, '#brush-size', STROKE.brush);
  await page.fill('#seed', '99');
  await setRange(page, '#denoising_strength', 0.9);
  const box = await page.locator('#mask-canvas').boundingBox();
  const toScreen = (x, y) => [box.x + x * box.width / WIDTH, box.y + y * box.height / HEIGHT];
  await page.mouse.move(...toScreen(STROKE.x0, STROKE.y));
  await page.mouse.down();
  for (let i = 1; i <= 10; i++) await page.mouse.move(...toScreen(STROKE.x0 + (STROKE.x1 - STROKE.x0) * i / 10, STROKE.y));
  await page.mouse.up();

  result.inpaint = await inpaint(page, original, 3);

  // 4. the same mask, "Only masked" with "fill": a crop around the stroke is repainted and pasted back
  await page.selectOption('#inpaint_full_res', 'true');
  await page.selectOption('#inpainting_fill', '0');
  result.onlyMasked = await inpaint(page, original, 4);
  result.errorShown = result.errorShown || !(await page.locator('#error').isHidden());
  return result;
}

/**
 * Clicks Generate on the inpaint tab and waits for the gallery's {@code count}th image; returns what was
 * sent (the mask read back in the page) and how the result differs from {@code original}.
 */
async function inpaint(page, original, count) {
  const sent = page.waitForRequest((r) => r.url().endsWith('/sdapi/v1/img2img') && r.method() === 'POST');
  await page.click('#generate');
  const body = JSON.parse((await sent).postData());
  const facts = {
    request: {
      hasInitImage: Array.isArray(body.init_images) && body.init_images.length === 1,
      width: body.width, height: body.height, denoising_strength: body.denoising_strength,
      inpainting_fill: body.inpainting_fill, inpaint_full_res: body.inpaint_full_res,
      inpaint_full_res_padding: body.inpaint_full_res_padding,
    },
    mask: await maskFacts(page, body.mask),
  };
  await page.waitForFunction((n) => document.querySelectorAll('#gallery img').length === n
      && document.getElementById('progress-text').textContent === 'done', count);
  facts.image = await decodedSize(page, '#gallery img:first-child');
  facts.infotext = await page.textContent('#infotext');
  const inpainted = await page.getAttribute('#gallery img:first-child', 'src');
  facts.change = await compare(page, original, inpainted);
  log(`inpaint ${JSON.stringify(facts.request)}: mask ${JSON.stringify(facts.mask)}, image ${JSON.stringify(facts.image)},`
      + ` change ${JSON.stringify(facts.change)}`);
  return facts;
}

/** Moves a slider (Playwright cannot type into one) as a drag would: the value, then an input event. */
function setRange(page, selector, value) {
  return page.locator(selector).evaluate((input, v) => {
    input.value = String(v);
    input.dispatchEvent(new Event('input', {bubbles: true}));
    input.dispatchEvent(new Event('change', {bubbles: true}));
  }, value);
}

/** The decoded size of an <img>, read in the page: 0×0 when the browser could not decode it. */
function decodedSize(page, selector) {
  return page.locator(selector).evaluate(async (img) => {
    try { await img.decode(); } catch (e) { /* reported as 0×0 below */ }
    return {complete: img.complete, width: img.naturalWidth, height: img.naturalHeight};
  });
}

/** What the mask sent to the server says: its size, and whether it is white on the stroke and black far from it. */
function maskFacts(page, maskUrl) {
  return page.evaluate(async ({maskUrl, stroke, farX, pixelsSrc}) => {
    const pixels = await (0, eval)(pixelsSrc)(maskUrl);
    const at = (x, y) => pixels.data[(y * pixels.width + x) * 4];
    let strokeWhite = 0, strokeCount = 0, farWhite = 0, white = 0;
    for (let y = 0; y < pixels.height; y++) {
      for (let x = 0; x < pixels.width; x++) {
        const v = at(x, y);
        if (v === 255) white++;
        if (y === stroke.y && x >= stroke.x0 && x <= stroke.x1) { strokeCount++; if (v === 255) strokeWhite++; }
        if (x >= farX && v !== 0) farWhite++;
      }
    }
    return {width: pixels.width, height: pixels.height, strokeWhite, strokeCount, farNotBlack: farWhite, white};
  }, {maskUrl, stroke: STROKE, farX: FAR_X, pixelsSrc: PIXELS_IN_PAGE});
}

/**
 * How the inpainted picture differs from the original: the largest difference far from the stroke
 * (x ≥ FAR_X) and the mean difference inside the stroke's core (within half the brush radius).
 */
function compare(page, before, after) {
  return page.evaluate(async ({before, after, stroke, farX, pixelsSrc}) => {
    const pixels = (0, eval)(pixelsSrc);
    const a = await pixels(before), b = await pixels(after);
    if (a.width !== b.width || a.height !== b.height) return {sameSize: false};
    let farMax = 0, farCount = 0, coreSum = 0, coreCount = 0;
    for (let y = 0; y < a.height; y++) {
      for (let x = 0; x < a.width; x++) {
        const dx = Math.max(stroke.x0 - x, 0, x - stroke.x1), dy = y - stroke.y;
        const inCore = dx * dx + dy * dy <= (stroke.brush / 4) ** 2;
        for (let ch = 0; ch < 3; ch++) {
          const i = (y * a.width + x) * 4 + ch;
          const d = Math.abs(a.data[i] - b.data[i]);
          if (x >= farX) { farMax = Math.max(farMax, d); farCount++; }
          if (inCore) { coreSum += d; coreCount++; }
        }
      }
    }
    return {sameSize: true, farMaxDelta: farMax, farValues: farCount, coreMeanDelta: coreSum / coreCount, coreValues: coreCount};
  }, {before, after, stroke: STROKE, farX: FAR_X, pixelsSrc: PIXELS_IN_PAGE});
}
