// SPDX-License-Identifier: Apache-2.0
// A worker in its own process, for tests that must kill a worker abruptly (SIGKILL: no
// ShutdownWorker call, no final responses). Usage: node worker-proc.mjs ADDRESS TASK_QUEUE
// IDENTITY. Prints "ready" once polling. Its activities: greet(name), and spin(key), which
// heartbeats every 200 ms forever and prints "spinning KEY" on its first run. Started by
// test/sdk/harness.mjs (startWorkerProc) for crash.test.mjs and sticky_query.test.mjs.
import { sdkWorker, sdkActivity, workflowBundle, sleep } from './harness.mjs';

const [address, taskQueue, identity] = process.argv.slice(2);
const connection = await sdkWorker.NativeConnection.connect({ address });
const worker = await sdkWorker.Worker.create({
  connection,
  namespace: 'default',
  taskQueue,
  identity,
  workflowBundle: await workflowBundle(),
  maxCachedWorkflows: 10,
  stickyQueueScheduleToStartTimeout: '2s',
  activities: {
    async greet(name) {
      return `Hello from ${identity}, ${name}!`;
    },
    async spin(key) {
      console.log(`spinning ${key}`);
      for (;;) {
        sdkActivity.Context.current().heartbeat();
        await sleep(200);
      }
    },
  },
});
const run = worker.run();
console.log('ready');
await run;
