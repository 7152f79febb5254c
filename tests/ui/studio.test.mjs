// Browser test of the Studio page (docs/studio.md), in Debian's Chromium driven by playwright-core.
//
// It starts `poolbroker local` on ephemeral ports (emulators + local Functions host + the real
// handler), then, like a person with a mouse and a keyboard: attaches a pool through the form,
// sees it listed with its first user-assigned identity marked, updates the identity, detaches
// the pool, and opens the rejected list after a bad attach. Screenshots go to
// tests/ui/artifacts/ (CI keeps them as test artefacts).
//
//   cargo build && (cd tests/ui && npm ci && npm test)
//
// POOLBROKER_BIN: the poolbroker executable (default: target/debug/poolbroker).
// CHROMIUM: the browser (default: /usr/bin/chromium, Debian's package).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
const BIN = resolve(ROOT, process.env.POOLBROKER_BIN ?? 'target/debug/poolbroker');
const BROWSER = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = join(HERE, 'artifacts');
// Replies arrive in well under a second; this only bounds a broken run.
const REPLY_TIMEOUT = 30_000;

const SUB = '00000000-0000-0000-0000-000000000001';
const RG = 'poolbroker-demo';
const UAI = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities`;

let world; // the poolbroker local process
let studioUrl;
let context;
let page;
let userDataDir;

function startWorld() {
  return new Promise((resolveStart, reject) => {
    const child = spawn(BIN, ['local', '--http-port', '0', '--servicebus-port', '0', '--arm-port', '0'], {
      cwd: ROOT,
      env: { ...process.env, POOLBROKER_LOG: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`poolbroker local did not print the Studio URL:\n${out}`)), 60_000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/Studio \(attached pools\)\s+(http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolveStart({ child, url: m[1] });
      }
    });
    child.stderr.on('data', (chunk) => { out += chunk; });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`poolbroker local exited (${code}):\n${out}`));
    });
  });
}

async function shot(name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/// The command page reloads itself (meta refresh) until the reply is there.
async function replyStatus() {
  const status = page.locator('#reply [data-status]');
  await status.waitFor({ timeout: REPLY_TIMEOUT });
  return status.getAttribute('data-status');
}

before(async () => {
  assert.ok(existsSync(BIN), `${BIN} not found: run cargo build first (or set POOLBROKER_BIN)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  const started = await startWorld();
  world = started.child;
  studioUrl = started.url;
  userDataDir = mkdtempSync(join(tmpdir(), 'poolbroker-ui-'));
  // A persistent context is how Playwright takes a --user-data-dir of our choosing (fresh here).
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: BROWSER,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
  });
  page = context.pages()[0] ?? (await context.newPage());
});

after(async () => {
  await context?.close();
  if (world && world.exitCode === null) {
    const exited = new Promise((r) => world.once('exit', r));
    world.kill('SIGINT');
    await exited;
  }
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

test('attach, see the job identity marked, update it, detach, and read a rejection', async (t) => {
  // Whatever fails, keep a picture of the page it failed on.
  t.after(async () => {
    if (page && !page.isClosed()) await shot('last-page');
  });
  await page.goto(studioUrl);
  assert.equal(await page.title(), 'Attached computes · poolbroker Studio');

  // Keyboard: the first Tab reaches the skip link, and Enter on the summary opens the panel.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
  await page.locator('summary', { hasText: 'New: attach a Synapse Spark pool' }).focus();
  await page.keyboard.press('Enter');
  await page.getByLabel('Name', { exact: false }).first().waitFor({ state: 'visible' });

  // The attach panel, filled by its labels.
  await page.getByLabel(/^Name/).fill('uipool1');
  await page.getByLabel('Synapse workspace').fill('syn-demo');
  await page.getByLabel('Spark pool').fill('sparkpool2');
  await page.getByLabel('Identity type').selectOption('user_assigned');
  await page.getByLabel(/^User-assigned identities/).fill(`${UAI}/uai-poolbroker-1\n${UAI}/uai-poolbroker-2`);
  await page.getByLabel(/^Tags/).fill('team=ui-test');
  await page.getByLabel(/^TTL/).fill('8h');
  await shot('01-attach-panel');
  await page.getByRole('button', { name: 'Attach' }).click();
  assert.equal(await replyStatus(), 'Succeeded');
  await shot('02-attach-reply');

  // Listed, with the first user-assigned identity marked as the one that submits jobs.
  await page.getByRole('link', { name: 'Attached computes' }).first().click();
  const row = page.locator('tr[data-pool="uipool1"]');
  await row.waitFor();
  assert.match(await row.locator('[data-submits-jobs]').innerText(), /uai-poolbroker-1/);
  assert.match(await row.innerText(), /team=ui-test/);
  assert.match(await row.innerText(), /\byes\s*$/);
  await shot('03-attached-computes');

  // Details page: edit the identity, putting the second one first.
  await row.getByRole('link', { name: 'uipool1' }).click();
  await page.locator('summary', { hasText: 'Edit the managed identity' }).click();
  await page.getByLabel(/^User-assigned identities/).fill(`${UAI}/uai-poolbroker-2\n${UAI}/uai-poolbroker-1`);
  await page.getByRole('button', { name: 'Update' }).click();
  assert.equal(await replyStatus(), 'Succeeded');
  await page.getByRole('link', { name: 'Open uipool1' }).click();
  assert.match(await page.locator('[data-submits-jobs]').innerText(), /uai-poolbroker-2/);
  // The doctor checklist (the CheckPool command's list): attached, granted, all ✓.
  const attachedCheck = page.locator('#doctor li', { hasText: 'compute attached' });
  assert.equal(await attachedCheck.getAttribute('data-ok'), 'true');
  assert.match(await attachedCheck.innerText(), /✓/);
  assert.match(await page.locator('#doctor-summary').innerText(), /All checks passed/);
  await shot('04-details-after-update');

  // Detach from the details page.
  await page.getByRole('button', { name: 'Detach uipool1' }).click();
  assert.equal(await replyStatus(), 'Succeeded');
  await page.getByRole('link', { name: 'Attached computes' }).first().click();
  assert.equal(await page.locator('tr[data-pool="uipool1"]').count(), 0);

  // A bad attach (the compute name has a space): the broker rejects it, the reply says why,
  // and the rejected list keeps it with the reason.
  await page.locator('summary', { hasText: 'New: attach a Synapse Spark pool' }).click();
  await page.getByLabel(/^Name/).fill('bad pool');
  await page.getByLabel('Synapse workspace').fill('syn-demo');
  await page.getByLabel('Spark pool').fill('sparkpool1');
  await page.getByRole('button', { name: 'Attach' }).click();
  assert.equal(await replyStatus(), 'Rejected');
  await page.getByRole('link', { name: 'See the rejected commands' }).click();
  const rejected = page.locator('#rejected-list tbody tr', { hasText: 'AttachPool' });
  await rejected.first().waitFor();
  assert.match(await rejected.first().innerText(), /spec\.name/);
  await shot('05-rejected');
});
