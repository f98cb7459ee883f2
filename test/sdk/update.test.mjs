// SPDX-License-Identifier: Apache-2.0
// Workflow updates on a real temporald through the TypeScript SDK: executeUpdate with a result,
// a validator rejection (no update events in history), an update failing with an
// ApplicationFailure, startUpdate at ACCEPTED then result(), update-with-start on a new and on an
// existing workflow, deduplication by update id (also after the workflow closed), the limit of
// 10 in-flight updates (RESOURCE_EXHAUSTED), an update on a completed workflow (NOT_FOUND), and
// an accepted update surviving a SIGKILL restart of temporald, and the waiting rules: the
// caller's deadline (DEADLINE_EXCEEDED) and the long-poll expiry (the stage reached so far). Histories are checked for the
// WorkflowExecutionUpdateAccepted / Completed events, their attributes and their order.
// Run by test/sdk/run.sh with `node --test`.
import assert from 'node:assert/strict';
import {
  useTemporald,
  sdkTest,
  sdkClient,
  sdkCommon,
  sdkProto,
  uniq,
  eventTypes,
  eventsOf,
  attrs,
  num,
  payloadValue,
  sleep,
  waitFor,
} from './harness.mjs';

// Long polls for an update stage end after 2 s here (Temporal's default is 20 s).
const env = useTemporald({ args: ['--dynamic-config-value', 'history.longPollExpirationInterval=2s'] });
const { WorkflowUpdateStage, WithStartWorkflowOperation, WorkflowUpdateFailedError } = sdkClient;

const ACCEPTED = 'WorkflowExecutionUpdateAccepted';
const COMPLETED = 'WorkflowExecutionUpdateCompleted';

// Checks every update event pair of a history: the accepted event names the request (message id
// "<id>/request", sequenced right before the started event of the task that carried it, the
// request itself), follows that task's WorkflowTaskCompleted, and the completed event points back
// at it. Returns the accepted attributes by update id.
function checkUpdateEvents(h) {
  const byId = new Map();
  const evs = h.events;
  for (let i = 0; i < evs.length; i++) {
    const type = eventTypes({ events: [evs[i]] })[0];
    if (type === ACCEPTED) {
      const a = attrs(evs[i]);
      const id = a.protocolInstanceId;
      assert.ok(id, 'protocol_instance_id is set');
      assert.equal(a.acceptedRequestMessageId, `${id}/request`);
      assert.equal(a.acceptedRequest?.meta?.updateId, id);
      assert.ok(a.acceptedRequest?.input?.name, 'the accepted request names the update');
      // The workflow task whose completion wrote it.
      let j = i - 1;
      while (j >= 0 && eventTypes({ events: [evs[j]] })[0] !== 'WorkflowTaskCompleted') j--;
      assert.ok(j >= 0, 'an accepted event follows a WorkflowTaskCompleted');
      const started = num(attrs(evs[j]).startedEventId);
      assert.equal(num(a.acceptedRequestSequencingEventId), started - 1);
      assert.ok(!byId.has(id), `update ${id} accepted once`);
      byId.set(id, { ...a, eventId: num(evs[i].eventId), index: i });
    } else if (type === COMPLETED) {
      const c = attrs(evs[i]);
      const acc = byId.get(c.meta?.updateId);
      assert.ok(acc, `update ${c.meta?.updateId} completed after being accepted`);
      assert.equal(num(c.acceptedEventId), acc.eventId);
      assert.ok(c.outcome?.success || c.outcome?.failure, 'the completed event carries the outcome');
      acc.completed = c;
    }
  }
  return byId;
}

async function finish(handle) {
  await handle.signal('done');
  return handle.result();
}

sdkTest('executeUpdate returns the handler result; history has Accepted/Completed in order', { timeout: 30000 }, async () => {
  const taskQueue = uniq('upd');
  const workflowId = uniq('upd-wf');
  const r = await env.withWorker({ taskQueue }, async () => {
    const handle = await env.client.workflow.start('updateTarget', { taskQueue, workflowId });
    assert.equal(await handle.executeUpdate('setValue', { args: ['a'], updateId: 'u-1' }), '');
    assert.equal(await handle.executeUpdate('setValue', { args: ['b'], updateId: 'u-2' }), 'a');
    return finish(handle);
  });
  assert.equal(r, 'b');
  const h = await env.handle(workflowId).fetchHistory();
  const types = eventTypes(h);
  assert.equal(eventsOf(h, ACCEPTED).length, 2);
  assert.equal(eventsOf(h, COMPLETED).length, 2);
  const byId = checkUpdateEvents(h);
  assert.deepEqual([...byId.keys()], ['u-1', 'u-2']);
  assert.equal(byId.get('u-1').acceptedRequest.input.name, 'setValue');
  assert.equal(payloadValue(byId.get('u-1').acceptedRequest.input.args), 'a');
  assert.equal(payloadValue(byId.get('u-1').completed.outcome.success), '');
  assert.equal(payloadValue(byId.get('u-2').completed.outcome.success), 'a');
  // u-1 completes before u-2 is accepted; the run ends with the close event.
  assert.ok(types.indexOf(COMPLETED) < types.lastIndexOf(ACCEPTED));
  assert.equal(types.at(-1), 'WorkflowExecutionCompleted');
});

sdkTest('a validator rejection fails the update and writes no update event', { timeout: 30000 }, async () => {
  const taskQueue = uniq('upd-rej');
  const workflowId = uniq('upd-rej-wf');
  const r = await env.withWorker({ taskQueue }, async () => {
    const handle = await env.client.workflow.start('updateTarget', { taskQueue, workflowId });
    await assert.rejects(handle.executeUpdate('setValue', { args: ['bad-1'] }), (err) => {
      assert.ok(err instanceof WorkflowUpdateFailedError, `got ${err}`);
      assert.match(err.cause?.message ?? '', /invalid value bad-1/);
      return true;
    });
    // The workflow goes on; a valid update is still served.
    assert.equal(await handle.executeUpdate('setValue', { args: ['ok'] }), '');
    return finish(handle);
  });
  assert.equal(r, 'ok');
  const h = await env.handle(workflowId).fetchHistory();
  const byId = checkUpdateEvents(h);
  assert.equal(byId.size, 1, 'only the valid update is in history');
  assert.equal(payloadValue([...byId.values()][0].acceptedRequest.input.args), 'ok');
  for (const e of h.events) {
    const a = attrs(e);
    if (a?.acceptedRequest) assert.notEqual(payloadValue(a.acceptedRequest.input.args), 'bad-1');
  }
});

sdkTest('an update handler throwing an ApplicationFailure completes the update with it', { timeout: 30000 }, async () => {
  const taskQueue = uniq('upd-fail');
  const workflowId = uniq('upd-fail-wf');
  await env.withWorker({ taskQueue }, async () => {
    const handle = await env.client.workflow.start('updateTarget', { taskQueue, workflowId });
    await assert.rejects(handle.executeUpdate('failUpdate', { args: ['boom'], updateId: 'f-1' }), (err) => {
      assert.ok(err instanceof WorkflowUpdateFailedError, `got ${err}`);
      assert.equal(err.cause?.message, 'boom');
      assert.equal(err.cause?.type, 'UpdateFailed');
      return true;
    });
    return finish(handle);
  });
  const h = await env.handle(workflowId).fetchHistory();
  const byId = checkUpdateEvents(h);
  const f = byId.get('f-1');
  assert.equal(f.completed.outcome.failure.message, 'boom');
  assert.equal(f.completed.outcome.failure.applicationFailureInfo.type, 'UpdateFailed');
});

sdkTest('startUpdate waits for ACCEPTED; result() polls until the update completes', { timeout: 30000 }, async () => {
  const taskQueue = uniq('upd-acc');
  const workflowId = uniq('upd-acc-wf');
  await env.withWorker({ taskQueue }, async () => {
    const handle = await env.client.workflow.start('updateTarget', { taskQueue, workflowId });
    const uh = await handle.startUpdate('waitUpdate', { args: [21], updateId: 'w-1', waitForStage: WorkflowUpdateStage.ACCEPTED });
    assert.equal(uh.updateId, 'w-1');
    assert.equal(uh.workflowRunId, handle.firstExecutionRunId);
    let h = await handle.fetchHistory();
    assert.equal(eventsOf(h, ACCEPTED).length, 1);
    assert.equal(eventsOf(h, COMPLETED).length, 0);
    const pending = uh.result();
    await sleep(300);
    await handle.signal('release');
    assert.equal(await pending, 42);
    // Another handle on the same update reads the stored outcome.
    assert.equal(await handle.getUpdateHandle('w-1').result(), 42);
    h = await handle.fetchHistory();
    const byId = checkUpdateEvents(h);
    assert.equal(payloadValue(byId.get('w-1').completed.outcome.success), 42);
    // The completion came from a later workflow task than the acceptance.
    const types = eventTypes(h);
    assert.ok(types.slice(types.indexOf(ACCEPTED), types.indexOf(COMPLETED)).includes('WorkflowExecutionSignaled'));
    return finish(handle);
  });
});

sdkTest('update-with-start starts a new workflow, then updates the running one', { timeout: 30000 }, async () => {
  const taskQueue = uniq('uws');
  const workflowId = uniq('uws-wf');
  await env.withWorker({ taskQueue }, async () => {
    const op1 = new WithStartWorkflowOperation('updateTarget', { workflowId, taskQueue, workflowIdConflictPolicy: 'USE_EXISTING' });
    assert.equal(await env.client.workflow.executeUpdateWithStart('setValue', { args: ['first'], startWorkflowOperation: op1 }), '');
    const h1 = await op1.workflowHandle();
    const op2 = new WithStartWorkflowOperation('updateTarget', { workflowId, taskQueue, workflowIdConflictPolicy: 'USE_EXISTING' });
    const uh = await env.client.workflow.startUpdateWithStart('waitUpdate', {
      args: [5],
      waitForStage: WorkflowUpdateStage.ACCEPTED,
      startWorkflowOperation: op2,
    });
    const h2 = await op2.workflowHandle();
    assert.equal(h2.firstExecutionRunId, h1.firstExecutionRunId, 'the running workflow was used');
    await h2.signal('release');
    assert.equal(await uh.result(), 10);
    // FAIL on a running workflow: the start fails, the update is not applied.
    const op3 = new WithStartWorkflowOperation('updateTarget', { workflowId, taskQueue, workflowIdConflictPolicy: 'FAIL' });
    await assert.rejects(
      env.client.workflow.executeUpdateWithStart('setValue', { args: ['never'], startWorkflowOperation: op3 }),
      (err) => err instanceof sdkClient.WorkflowExecutionAlreadyStartedError || err?.cause instanceof sdkClient.WorkflowExecutionAlreadyStartedError,
    );
    // The raw shape: MultiOperationExecutionFailure, the start's status first, the update aborted.
    const startReq = {
      namespace: 'default',
      workflowId,
      workflowType: { name: 'updateTarget' },
      taskQueue: { name: taskQueue },
      requestId: uniq('req'),
      workflowIdConflictPolicy: sdkProto.temporal.api.enums.v1.WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
    };
    const updReq = {
      namespace: 'default',
      workflowExecution: { workflowId },
      waitPolicy: { lifecycleStage: sdkProto.temporal.api.enums.v1.UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED },
      request: { meta: { updateId: 'raw' }, input: { name: 'setValue' } },
    };
    await assert.rejects(
      env.client.workflowService.executeMultiOperation({ namespace: 'default', operations: [{ startWorkflow: startReq }, { updateWorkflow: updReq }] }),
      (err) => {
        assert.equal(err.code, 6, `ALREADY_EXISTS expected, got ${err}`);
        const bin = err.metadata.get('grpc-status-details-bin')[0];
        const st = sdkProto.google.rpc.Status.decode(bin);
        assert.equal(st.details[0].type_url, 'type.googleapis.com/temporal.api.errordetails.v1.MultiOperationExecutionFailure');
        const { statuses } = sdkProto.temporal.api.errordetails.v1.MultiOperationExecutionFailure.decode(st.details[0].value);
        assert.equal(statuses.length, 2);
        assert.equal(statuses[0].code, 6);
        assert.match(statuses[0].details[0].type_url, /WorkflowExecutionAlreadyStartedFailure$/);
        assert.equal(statuses[1].code, 10);
        assert.match(statuses[1].details[0].type_url, /MultiOperationExecutionAborted$/);
        return true;
      },
    );
    assert.equal(await finish(h1), 'first');
  });
  const h = await env.handle(workflowId).fetchHistory();
  const types = eventTypes(h);
  assert.equal(eventsOf(h, 'WorkflowExecutionStarted').length, 1);
  // The first update rode in the first workflow task.
  assert.deepEqual(types.slice(0, 5), ['WorkflowExecutionStarted', 'WorkflowTaskScheduled', 'WorkflowTaskStarted', 'WorkflowTaskCompleted', ACCEPTED]);
  const byId = checkUpdateEvents(h);
  assert.equal(byId.size, 2);
  for (const a of byId.values()) assert.notEqual(payloadValue(a.acceptedRequest.input.args), 'never');
});

sdkTest('the same update id gets the same outcome, also after the workflow completed', { timeout: 30000 }, async () => {
  const taskQueue = uniq('upd-dup');
  const workflowId = uniq('upd-dup-wf');
  const handle = await env.withWorker({ taskQueue }, async () => {
    const h = await env.client.workflow.start('updateTarget', { taskQueue, workflowId });
    assert.equal(await h.executeUpdate('setValue', { args: ['v1'], updateId: 'same' }), '');
    // Same id, other arguments: the first outcome, the handler does not run again.
    assert.equal(await h.executeUpdate('setValue', { args: ['v2'], updateId: 'same' }), '');
    assert.equal(await h.executeUpdate('setValue', { args: ['v3'], updateId: 'other' }), 'v1');
    assert.equal(await finish(h), 'v3');
    return h;
  });
  // No worker now: the answers come from the completed events.
  assert.equal(await handle.executeUpdate('setValue', { args: ['v4'], updateId: 'same' }), '');
  assert.equal(await handle.getUpdateHandle('other').result(), 'v1');
  const h = await handle.fetchHistory();
  assert.equal(eventsOf(h, ACCEPTED).length, 2);
  assert.deepEqual([...checkUpdateEvents(h).keys()], ['same', 'other']);
});

sdkTest('at most 10 updates in flight per workflow: the 11th gets RESOURCE_EXHAUSTED', { timeout: 60000 }, async () => {
  const taskQueue = uniq('upd-lim');
  const workflowId = uniq('upd-lim-wf');
  // A client without the SDK's retries, so the refusal surfaces at once.
  const conn = await sdkClient.Connection.connect({ address: env.server.address, interceptors: [] });
  try {
    const bare = new sdkClient.Client({ connection: conn, namespace: 'default' });
    await env.withWorker({ taskQueue }, async () => {
      const handle = await env.client.workflow.start('updateTarget', { taskQueue, workflowId });
      const uhs = [];
      for (let i = 0; i < 10; i++) {
        uhs.push(await handle.startUpdate('waitUpdate', { args: [i], updateId: `lim-${i}`, waitForStage: WorkflowUpdateStage.ACCEPTED }));
      }
      await assert.rejects(
        bare.workflow.getHandle(workflowId).executeUpdate('setValue', { args: ['x'], updateId: 'lim-10' }),
        (err) => {
          assert.equal(err.cause?.code, 8, `RESOURCE_EXHAUSTED expected, got ${err} (${err.cause})`);
          assert.match(String(err.cause?.details), /concurrent in-flight updates has been reached \(10\)/);
          return true;
        },
      );
      // A duplicate of an in-flight update is not a new one.
      const again = await handle.startUpdate('waitUpdate', { args: [0], updateId: 'lim-0', waitForStage: WorkflowUpdateStage.ACCEPTED });
      assert.equal(again.updateId, 'lim-0');
      await handle.signal('release');
      assert.deepEqual(await Promise.all(uhs.map((u) => u.result())), uhs.map((_u, i) => 2 * i));
      // Room again.
      assert.equal(await handle.executeUpdate('setValue', { args: ['y'], updateId: 'lim-11' }), '');
      return finish(handle);
    });
  } finally {
    await conn.close();
  }
  const h = await env.handle(workflowId).fetchHistory();
  const byId = checkUpdateEvents(h);
  assert.equal(byId.size, 11);
  assert.ok(!byId.has('lim-10'));
});

sdkTest('an update on a completed workflow is refused: workflow execution already completed', { timeout: 30000 }, async () => {
  const taskQueue = uniq('upd-done');
  const workflowId = uniq('upd-done-wf');
  const handle = await env.withWorker({ taskQueue }, async () => {
    const h = await env.client.workflow.start('updateTarget', { taskQueue, workflowId });
    await finish(h);
    return h;
  });
  await assert.rejects(handle.executeUpdate('setValue', { args: ['late'] }), (err) => {
    assert.equal(err.name, 'WorkflowNotFoundError', `got ${err}`);
    assert.match(err.message, /workflow execution already completed/);
    return true;
  });
  const h = await handle.fetchHistory();
  assert.equal(eventsOf(h, ACCEPTED).length, 0);
});

sdkTest('an accepted update survives a SIGKILL restart and completes afterwards', { timeout: 60000 }, async () => {
  const taskQueue = uniq('upd-crash');
  const workflowId = uniq('upd-crash-wf');
  const w = await env.worker({ taskQueue });
  await w.runUntil(async () => {
    const handle = await env.client.workflow.start('updateTarget', { taskQueue, workflowId });
    assert.equal(await handle.executeUpdate('setValue', { args: ['before'], updateId: 'c-done' }), '');
    await handle.startUpdate('waitUpdate', { args: [4], updateId: 'c-acc', waitForStage: WorkflowUpdateStage.ACCEPTED });
    await env.server.restart();
    // The completed update is answered from history; the accepted one is still in flight.
    const retry = async (fn) => {
      for (let i = 0; ; i++) {
        try {
          return await fn();
        } catch (err) {
          if (i > 50) throw err;
          await sleep(200);
        }
      }
    };
    assert.equal(await retry(() => handle.executeUpdate('setValue', { args: ['x'], updateId: 'c-done' })), '');
    const pending = handle.getUpdateHandle('c-acc').result();
    await retry(() => handle.signal('release'));
    assert.equal(await pending, 8);
    assert.equal(await retry(() => finish(handle)), 'before');
  });
  const h = await env.handle(workflowId).fetchHistory();
  const byId = checkUpdateEvents(h);
  assert.deepEqual([...byId.keys()], ['c-done', 'c-acc']);
  assert.equal(payloadValue(byId.get('c-acc').completed.outcome.success), 8);
  assert.ok(await waitFor(async () => (await env.handle(workflowId).describe()).status.name === 'COMPLETED'));
});

sdkTest('waiting: the stage at once, the long poll ends with the stage so far, a short deadline is DEADLINE_EXCEEDED', { timeout: 60000 }, async () => {
  const taskQueue = uniq('upd-wait');
  const workflowId = uniq('upd-wait-wf');
  // No worker yet: nothing can accept the update.
  const handle = await env.client.workflow.start('updateTarget', { taskQueue, workflowId });
  const svc = env.client.workflowService;
  const Stage = sdkProto.temporal.api.enums.v1.UpdateWorkflowExecutionLifecycleStage;
  const request = (id, arg) => ({
    meta: { updateId: id, identity: 'test' },
    input: { name: 'setValue', args: { payloads: [sdkCommon.defaultPayloadConverter.toPayload(arg)] } },
  });
  // Waiting for ADMITTED only is refused, as by Temporal; no wait stage answers the stage now.
  await assert.rejects(
    svc.updateWorkflowExecution({
      namespace: 'default',
      workflowExecution: { workflowId },
      waitPolicy: { lifecycleStage: Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED },
      request: request('adm', 'one'),
    }),
    (err) => err.code === 7 && /waiting on update admitted is not supported/.test(err.details),
  );
  const r1 = await svc.updateWorkflowExecution({
    namespace: 'default',
    workflowExecution: { workflowId },
    request: request('adm', 'one'),
  });
  assert.equal(r1.stage, Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED);
  assert.equal(r1.outcome, null);
  assert.equal(r1.updateRef.workflowExecution.runId, handle.firstExecutionRunId);
  // Waiting for COMPLETED: the 2 s long poll ends with the stage reached so far.
  const t0 = Date.now();
  const r2 = await svc.pollWorkflowExecutionUpdate({
    namespace: 'default',
    updateRef: { workflowExecution: { workflowId }, updateId: 'adm' },
    waitPolicy: { lifecycleStage: Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED },
  });
  assert.equal(r2.stage, Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED);
  assert.ok(Date.now() - t0 >= 1500, `the poll waited (${Date.now() - t0} ms)`);
  // A deadline shorter than that: DEADLINE_EXCEEDED, which the SDK reports as its own error.
  await assert.rejects(
    env.connection.withDeadline(Date.now() + 500, () =>
      handle.startUpdate('setValue', { args: ['two'], updateId: 'dl', waitForStage: WorkflowUpdateStage.ACCEPTED }),
    ),
    (err) => err instanceof sdkClient.WorkflowUpdateRPCTimeoutOrCancelledError,
  );
  // An update of an unknown id cannot be polled.
  await assert.rejects(
    svc.pollWorkflowExecutionUpdate({ namespace: 'default', updateRef: { workflowExecution: { workflowId }, updateId: 'nope' } }),
    (err) => err.code === 5,
  );
  // executeUpdate re-sends across expired long polls until a worker accepts and completes it.
  const pending = handle.executeUpdate('setValue', { args: ['three'], updateId: 'late' });
  await sleep(4500);
  await env.withWorker({ taskQueue }, async () => {
    assert.equal(await pending, 'two');
    return finish(handle);
  });
  const h = await handle.fetchHistory();
  const byId = checkUpdateEvents(h);
  // The admitted requests ride in the first task, in arrival order.
  assert.deepEqual([...byId.keys()], ['adm', 'dl', 'late']);
  assert.equal(payloadValue(byId.get('adm').completed.outcome.success), '');
  assert.equal(eventsOf(h, 'WorkflowTaskStarted').length >= 2, true);
});

sdkTest('update events replay: a worker without a cache and a reset run rebuild the same state', { timeout: 60000 }, async () => {
  const taskQueue = uniq('upd-replay');
  const workflowId = uniq('upd-replay-wf');
  // Without a workflow cache every task replays the whole history, update events included.
  const { handle, runId } = await env.withWorker({ taskQueue, maxCachedWorkflows: 0 }, async () => {
    const h = await env.client.workflow.start('updateTarget', { taskQueue, workflowId });
    assert.equal(await h.executeUpdate('setValue', { args: ['a'], updateId: 'r-1' }), '');
    await h.signal('release');
    assert.equal(await h.executeUpdate('waitUpdate', { args: [3], updateId: 'r-w' }), 6);
    assert.equal(await h.executeUpdate('setValue', { args: ['b'], updateId: 'r-2' }), 'a');
    return { handle: h, runId: h.firstExecutionRunId };
  });
  let h = await handle.fetchHistory();
  assert.equal(eventsOf(h, 'WorkflowTaskFailed').length, 0, 'no nondeterminism on replay');
  // Reset to the task that accepted r-2: the new run keeps r-1 and r-w, not r-2.
  const byId = checkUpdateEvents(h);
  let j = byId.get('r-2').index;
  while (eventTypes({ events: [h.events[j]] })[0] !== 'WorkflowTaskCompleted') j--;
  const resp = await env.client.workflowService.resetWorkflowExecution({
    namespace: 'default',
    workflowExecution: { workflowId, runId },
    reason: 'update replay',
    workflowTaskFinishEventId: num(h.events[j].eventId),
    requestId: uniq('reset-req'),
  });
  const fresh = env.handle(workflowId, resp.runId);
  const r = await env.withWorker({ taskQueue }, async () => {
    // The rebuilt records answer the old ids; the replayed workflow state holds 'a'.
    assert.equal(await fresh.executeUpdate('setValue', { args: ['zzz'], updateId: 'r-1' }), '');
    assert.equal(await fresh.executeUpdate('setValue', { args: ['c'], updateId: 'r-3' }), 'a');
    return finish(fresh);
  });
  assert.equal(r, 'c');
  h = await fresh.fetchHistory();
  assert.deepEqual([...checkUpdateEvents(h).keys()], ['r-1', 'r-w', 'r-3']);
});
