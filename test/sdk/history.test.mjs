// SPDX-License-Identifier: Apache-2.0
// A long history on a real temporald: a workflow with 1,000 timers (more than 2,000 events) is
// read back page by page with the raw GetWorkflowExecutionHistory RPC and its page tokens, then
// compared with the SDK's fetchHistory() and replayed by the SDK to check it is a history the
// workflow code could have produced. Run by test/sdk/run.sh with `node --test`.
import assert from 'node:assert/strict';
import { useTemporald, sdkTest, sdkWorker, workflowBundle, uniq, eventTypes, num } from './harness.mjs';
import { TODO } from './todo.mjs';

const env = useTemporald();

sdkTest('a 2,000-event history read back page by page', { todo: TODO.longHistory, timeout: 120000 }, async () => {
  const taskQueue = uniq('long');
  const workflowId = uniq('long-wf');
  const n = 1000;
  const r = await env.withWorker({ taskQueue }, () =>
    env.client.workflow.execute('manyTimers', { taskQueue, workflowId, args: [n] }),
  );
  assert.equal(r, n);

  const pages = [];
  const events = [];
  let token;
  do {
    const resp = await env.client.workflowService.getWorkflowExecutionHistory({
      namespace: 'default',
      execution: { workflowId },
      maximumPageSize: 100,
      nextPageToken: token,
    });
    const evs = resp.history?.events ?? [];
    pages.push(evs.length);
    events.push(...evs);
    token = resp.nextPageToken?.length ? resp.nextPageToken : undefined;
    assert.ok(pages.length < 1000, 'pagination terminates');
  } while (token);

  assert.ok(events.length > 2000, `history has ${events.length} events`);
  // A page may hold more events than maximumPageSize: event batches are not split (the one
  // batch of WorkflowTaskCompleted + 1,000 TimerStarted is bigger than a page), and Temporal
  // itself counts its page size in batches. Most pages must still be bounded.
  assert.ok(pages.length >= 10, `pages: ${pages.join(',')}`);
  assert.ok(pages.filter((p) => p > 100).length <= 1, `pages: ${pages.join(',')}`);
  assert.ok(pages.slice(0, -1).every((p) => p > 0), 'only the last page may be empty');
  events.forEach((e, i) => assert.equal(num(e.eventId), i + 1, 'event ids are contiguous across pages'));

  const types = eventTypes({ events });
  assert.equal(types.filter((t) => t === 'TimerStarted').length, n);
  assert.equal(types.filter((t) => t === 'TimerFired').length, n);
  assert.equal(types[0], 'WorkflowExecutionStarted');
  assert.equal(types.at(-1), 'WorkflowExecutionCompleted');

  const full = await env.handle(workflowId).fetchHistory();
  assert.equal(full.events.length, events.length);
  assert.deepEqual(eventTypes(full), types);

  // The SDK replays the history against the workflow code: it must be deterministic.
  await sdkWorker.Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, full, workflowId);
});
