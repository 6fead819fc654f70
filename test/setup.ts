// Root hooks for the whole suite: clean leftovers of killed runs before anything starts, and say
// which server this leg runs against so both CI legs are visible in the output.
import { dropStaleThrowaways, testServerUrl } from '../tools/harness/database';
import { redactUrl, withConnection } from '../tools/sql/connection';
import { detectServer } from '../tools/sql/flavour';

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(60_000);
    const url = testServerUrl();
    const server = await withConnection(url, detectServer, { database: null });
    const dropped = await dropStaleThrowaways(url);
    console.log(`  server under test: ${server.flavour} ${server.version} at ${redactUrl(url)}` +
      (dropped.length ? ` (dropped ${dropped.length} stale throwaway databases)` : ''));
  },
};
