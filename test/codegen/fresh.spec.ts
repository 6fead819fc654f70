// CI's freshness check: the committed bindings/ are exactly what this checkout's routines generate,
// on each server CI runs (the bindings must not depend on which server generated them).
import { expect } from 'chai';
import { testServerUrl } from '../../tools/harness/database';
import { runCli } from '../helpers/cli';

describe('committed bindings', () => {
  it('are what the current routines generate (reminderly-db codegen --check --from-checkout)', function () {
    this.timeout(300_000);
    const result = runCli(['codegen', '--check', '--from-checkout', '--url', testServerUrl()]);
    expect(result.code, result.stdout + result.stderr).to.equal(0);
  });
});
