// SPDX-License-Identifier: Apache-2.0
// The workflow of the SDK benchmark (test/bench/sdk_single_activity.mjs): one activity with
// both timeouts set, then completion -- the same 11-event history as temporald_bench's
// single-activity scenario. Bundled by the SDK's webpack bundler; not used elsewhere.
const { proxyActivities } = require('@temporalio/workflow');

const { benchActivity } = proxyActivities({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '60s',
});

async function benchSingleActivity(x) {
  return await benchActivity(x);
}

module.exports = { benchSingleActivity };
