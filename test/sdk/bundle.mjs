// SPDX-License-Identifier: Apache-2.0
// Bundles test/sdk/workflows.mjs once with the SDK's webpack bundler and writes the code to the
// file named on the command line, so every test file of the suite loads the same prebuilt bundle
// (TD_SDK_BUNDLE) instead of running webpack itself. Called by test/sdk/run.sh only.
import { writeFileSync } from 'node:fs';
import { buildBundle } from './harness.mjs';

const out = process.argv[2];
if (!out) {
  console.error('usage: node test/sdk/bundle.mjs OUT.js');
  process.exit(2);
}
const t0 = Date.now();
const { code } = await buildBundle();
writeFileSync(out, code);
console.log(`workflow bundle: ${code.length} bytes in ${Date.now() - t0} ms`);
process.exit(0);
