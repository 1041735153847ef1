import fc from 'fast-check';
import { fastCheckRuns } from './helpers/fast-check-env.js';
import { rawClient } from './helpers/index.js';
import type { Coverage } from './model/reference-model.js';
import { runScenario, type SpiedClient, spyOn } from './model/runner.js';
import { CLIENTS, configArb, stepsArb } from './model/scenario.js';

/*
 * Model-based test: random sequences of issue, verify, the revokes, list, real waits and
 * concurrent batches, run against Redis and against the reference model in test/model.
 * MODEL_RUNS sets how many sequences (npm test: 1,000; npm run test:long: 10,000). A failure
 * prints fast-check's seed and path; replay it with MODEL_SEED and MODEL_PATH.
 */
const settings = fastCheckRuns('MODEL', 1000);

describe('TokenStore against a reference model', function () {
  this.timeout(0);
  let clients: SpiedClient[] = [];

  before(async () => {
    clients = Array.from({ length: CLIENTS }, () => spyOn(rawClient()));
    await Promise.all(clients.map(({ client }) => client.ping()));
  });

  const coverage: Coverage = new Map();

  after(async () => {
    for (const { sent } of clients) sent.restore();
    await Promise.all(clients.map(({ client }) => client.quit()));
    const rows = [...coverage].sort(([a], [b]) => (a < b ? -1 : 1));
    console.log(
      '      rules of the model the run went through (steps, one explaining order each):',
    );
    for (const [rule, count] of rows) console.log(`        ${String(count).padStart(7)}  ${rule}`);
  });

  it(`agrees with the model on ${settings.numRuns} sequences with waits and batches`, async () => {
    await fc.assert(
      fc.asyncProperty(configArb, stepsArb, (config, steps) =>
        runScenario(clients, config, steps, coverage),
      ),
      settings,
    );
  });
});
