// CI's plan check on this checkout's own routines: every statement they run keeps its recorded
// plan (plans/plans.json) on realistic data, or the build fails naming routine, statement, table.
// It runs on each server CI runs: plans.json has a section per server flavour.
import { expect } from 'chai';
import { testServerUrl } from '../../tools/harness/database';
import { runCli } from '../helpers/cli';

describe('plans of this checkout\'s routines', () => {
  it('match plans/plans.json on this server (reminderly-db plans --check)', function () {
    this.timeout(600_000);
    const result = runCli(['plans', '--check', '--url', testServerUrl()]);
    expect(result.code, result.stdout + result.stderr).to.equal(0);
  });
});
