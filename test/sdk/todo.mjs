// SPDX-License-Identifier: Apache-2.0
// Which SDK tests are marked todo, and why: one entry per test group, naming what temporald does
// not serve yet. A todo test still runs (node reports it, a failure does not fail the suite);
// run.sh lists todo tests that passed so they can be promoted by deleting their entry here.
// An entry that is undefined means the test runs for real. Imported by test/sdk/*.test.mjs.
export const TODO = {
};
