// SPDX-License-Identifier: Apache-2.0
// Bundles test/cluster/workflows.mjs once with the SDK's webpack bundler into the file named on
// the command line; every test file of the cluster suite loads that bundle. Called by
// test/cluster/run.sh only (before the topology exists, so it does not import cluster.mjs).
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..', '..');
const jsNodeModules = path.join(root, 'test', 'js', 'node_modules');
const sdkWorker = createRequire(path.join(root, 'test', 'js', 'package.json'))('@temporalio/worker');
const out = process.argv[2];
if (!out) {
  console.error('usage: node test/cluster/bundle.mjs OUT.js');
  process.exit(2);
}
const t0 = Date.now();
const { code } = await sdkWorker.bundleWorkflowCode({
  workflowsPath: path.join(import.meta.dirname, 'workflows.mjs'),
  logger: new sdkWorker.DefaultLogger('WARN'),
  webpackConfigHook: (config) => {
    config.resolve.modules = [...(config.resolve.modules ?? []), jsNodeModules];
    config.resolveLoader = { ...(config.resolveLoader ?? {}), modules: [jsNodeModules, 'node_modules'] };
    return config;
  },
});
writeFileSync(out, code);
console.log(`# workflow bundle: ${code.length} bytes in ${Date.now() - t0} ms`);
process.exit(0);
