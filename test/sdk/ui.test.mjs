// SPDX-License-Identifier: Apache-2.0
// The Web UI in a real browser: Debian's chromium, driven by puppeteer-core (test/js), opens the
// UI of a start-dev on which the TypeScript SDK ran workflows; it lists them, filters with a
// query and by status, opens one and sees its history and result, signals and terminates another
// and sees the new state, and shows a payload holding <script> markup as text. Screenshots go to
// build/test-out/ui (TD_UI_SHOTS overrides), outside git. Run by test/sdk/run.sh (SQLite pass).
import assert from 'node:assert/strict';
import { mkdirSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { useTemporald, sdkTest, uniq, freePort, waitFor, root, backend } from './harness.mjs';

const jsRequire = createRequire(path.join(root, 'test', 'js', 'package.json'));
const puppeteer = jsRequire('puppeteer-core');
const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const shots = process.env.TD_UI_SHOTS || path.join(root, 'build', 'test-out', 'ui');
const skip = backend !== 'sqlite' && 'the UI reads through the API: one backend is enough';

const uiPort = await freePort();
const env = useTemporald({ headless: false, args: ['--ui-port', String(uiPort)] });
const ui = `http://127.0.0.1:${uiPort}`;

sdkTest('Web UI: list, filter, open, history and result, signal, terminate, escaping', { skip, timeout: 120000 }, async () => {
  assert.ok(chromium, 'chromium is installed (scripts/deps.sh test)');
  mkdirSync(shots, { recursive: true });
  const taskQueue = uniq('ui');
  const doneId = uniq('ui-done');
  const liveId = uniq('ui-live');
  const markup = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
  try {
    await env.withWorker({ taskQueue }, async () => {
      const done = await env.client.workflow.start('collect', { taskQueue, workflowId: doneId, args: [1] });
      await done.signal('add', markup);
      assert.deepEqual(await done.result(), [markup]);
      await env.client.workflow.start('collect', { taskQueue, workflowId: liveId, args: [0] });
      // visibility shows both before the browser looks
      await waitFor(async () => {
        const r = await fetch(`${ui}/api/v1/namespaces/default/workflows?query=${encodeURIComponent(`TaskQueue = "${taskQueue}"`)}`);
        return ((await r.json()).executions || []).length === 2;
      });

      const page = await browser.newPage();
      const pageErrors = [];
      page.on('pageerror', (e) => pageErrors.push(e.message));
      page.on('dialog', (d) => {
        pageErrors.push(`unexpected dialog: ${d.message()}`);
        d.dismiss();
      });
      await page.setViewport({ width: 1280, height: 900 });

      // the list shows both
      await page.goto(`${ui}/`, { waitUntil: 'networkidle0' });
      await page.waitForSelector('#wf-table');
      const listed = await page.$$eval('#wf-table tbody tr td:nth-child(2)', (tds) => tds.map((t) => t.textContent));
      assert.ok(listed.includes(doneId) && listed.includes(liveId), `listed: ${listed}`);
      await page.screenshot({ path: path.join(shots, '1-list.png') });

      // a query narrows it to one
      await page.$eval('#query', (i) => (i.value = ''));
      await page.type('#query', `WorkflowId = "${doneId}"`);
      await Promise.all([page.waitForFunction((id) => {
        const rows = [...document.querySelectorAll('#wf-table tbody tr')];
        return rows.length === 1 && rows[0].textContent.includes(id);
      }, {}, doneId), page.keyboard.press('Enter')]);
      // the status filter: Running within this task queue shows only the live one
      await page.$eval('#query', (i) => (i.value = ''));
      await page.type('#query', `TaskQueue = "${taskQueue}"`);
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => document.querySelectorAll('#wf-table tbody tr').length === 2);
      await page.select('#status', 'Running');
      await page.waitForFunction((id) => {
        const rows = [...document.querySelectorAll('#wf-table tbody tr')];
        return location.hash.includes('status=Running') && rows.length === 1 && rows[0].textContent.includes(id);
      }, {}, liveId);
      await page.waitForFunction(() => /Running: 1/.test(document.querySelector('#counts').textContent));
      await page.screenshot({ path: path.join(shots, '2-filtered.png') });

      // open the completed one: status, history, result with the markup as text
      await page.goto(`${ui}/#/namespaces/default/workflows/${encodeURIComponent(doneId)}/`, { waitUntil: 'networkidle0' });
      await page.waitForSelector('#history');
      const text = await page.$eval('main', (m) => m.textContent);
      assert.match(text, /Completed/);
      assert.match(text, /WorkflowExecutionCompleted/);
      assert.match(text, /WorkflowExecutionSignaled/);
      const outcome = await page.$eval('#outcome', (o) => o.textContent);
      assert.ok(outcome.includes('<script>window.__pwned = 1</script><img src=x onerror='), `result shown as text: ${outcome}`);
      assert.equal(await page.evaluate(() => window.__pwned), undefined, 'no script from a payload ran');
      assert.equal(await page.$$eval('main script, main img', (n) => n.length), 0, 'no element from a payload');
      await page.screenshot({ path: path.join(shots, '3-completed.png'), fullPage: true });
      await page.click('#hist-full');
      await page.waitForSelector('#history details');
      await page.screenshot({ path: path.join(shots, '4-full-history.png'), fullPage: true });

      // the live one: signal, query the state, terminate
      await page.goto(`${ui}/#/namespaces/default/workflows/${encodeURIComponent(liveId)}/`, { waitUntil: 'networkidle0' });
      await page.waitForSelector('#act-signal:not([disabled])');
      await page.click('#act-signal');
      await page.waitForSelector('#dlg[open]');
      await page.type('#f-name', 'add');
      await page.type('#f-input', '"from the browser"');
      await page.click('#dlg-ok');
      await page.waitForFunction(() => /Signal: done/.test(document.querySelector('main').textContent));
      await page.waitForFunction(() => /WorkflowExecutionSignaled/.test(document.querySelector('#history')?.textContent ?? ''), { timeout: 10000 });
      await page.click('#act-query');
      await page.waitForSelector('#dlg[open]');
      await page.type('#f-type', 'state');
      await page.click('#dlg-ok');
      await page.waitForFunction(() => /from the browser/.test(document.querySelector('#action-result').textContent), { timeout: 15000 });
      await page.screenshot({ path: path.join(shots, '5-signalled.png'), fullPage: true });
      await page.click('#act-terminate');
      await page.waitForSelector('#dlg[open]');
      await page.type('#f-reason', 'from the UI test');
      await page.click('#dlg-ok');
      await page.waitForFunction(() => /Terminated/.test(document.querySelector('main .panel')?.textContent ?? ''), { timeout: 10000 });
      await page.screenshot({ path: path.join(shots, '6-terminated.png'), fullPage: true });
      assert.equal((await env.handle(liveId).describe()).status.name, 'TERMINATED');

      // the task queue page lists the worker's pollers
      await page.goto(`${ui}/#/namespaces/default/task-queues/${encodeURIComponent(taskQueue)}`, { waitUntil: 'networkidle0' });
      await page.waitForFunction(() => document.querySelectorAll('table.pollers tbody tr').length >= 1);
      await page.screenshot({ path: path.join(shots, '7-task-queue.png') });
      assert.deepEqual(pageErrors, []);
    });
  } finally {
    await browser.close();
  }
  // writes through the UI port need the UI's header (a cross-site form cannot send it)
  const forged = await fetch(`${ui}/api/v1/namespaces/default/workflows/${uniq('x')}/terminate`, { method: 'POST', body: '{}' });
  assert.equal(forged.status, 403);
  const page = await fetch(`${ui}/`);
  assert.match(page.headers.get('content-security-policy'), /script-src 'self'/);
});
