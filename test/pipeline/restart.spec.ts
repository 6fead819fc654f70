// Issue 15's restart: a private server killed (-9) and restarted while its campaign's statistics
// were never persisted (tools/bench/restart-drill.ts), then claimed by 8 workers with the
// worker loop's default settings. Every message is completed exactly once, no lease expires and
// no completion is refused, before or after the restart, and the claims read as many rows per
// message after the restart as before (a count of handler reads); the claim rates are printed (the
// bench's "restart" section holds them to a ratio; no timed assertion here).
//
// MariaDB only: private servers are started from this machine's server binary, which is mariadbd
// in both CI legs (MySQL 9.7 runs inside a chroot its binary cannot leave: it needs the chroot's
// glibc), so the MySQL leg would run the very same MariaDB drill again. The MySQL leg's claim and
// complete plans under empty statistics are checked by plans/scenarios.empty-statistics.json on
// the server itself (test/plans/project.spec.ts).
import { expect } from 'chai';
import { testServerUrl } from '../../tools/harness/database';
import { privateServerFlavour } from '../../tools/harness/private-server';
import { usePrivateServer } from '../../tools/harness/mocha';
import { runRestartDrill, RestartDrillResult } from '../../tools/bench/restart-drill';
import { withConnection } from '../../tools/sql/connection';
import { detectServer } from '../../tools/sql/flavour';

const RESTART_SKIP_REASON = 'restart spec runs on MariaDB only because private servers are started from this machine\'s mariadbd '
  + '(MySQL 9.7 lives in a chroot whose binary cannot run outside it), so the MySQL leg would repeat the MariaDB drill';

describe('pipeline: claims after a kill -9 and restart with unpersisted statistics (private server; runs on MariaDB only because '
  + 'the harness starts private servers from this machine\'s mariadbd, and MySQL\'s binary cannot leave its chroot)', function () {
  this.timeout(600_000);

  before(async function () {
    const leg = await withConnection(testServerUrl(), detectServer, { database: null });
    const local = privateServerFlavour();
    if (local === null || local !== leg.flavour) {
      console.log(`      skipped: ${local === null ? 'no server binary to start a private server' : RESTART_SKIP_REASON}`);
      this.skip();
    }
  });

  const server = usePrivateServer({ label: 'restart' });
  let result: RestartDrillResult;

  before(async function () {
    this.timeout(600_000);
    result = await runRestartDrill({ server, messages: 30_000, workers: 8, log: (line) => console.log(`      ${line}`) });
    const ratio = (result.after.perSecond / result.before.perSecond).toFixed(2);
    console.log(`      claim rate: ${result.before.perSecond} messages/s before the restart, ${result.after.perSecond} after (${ratio}x); `
      + `${result.before.batches + result.after.batches} batches`);
  });

  it('restarts believing the campaign\'s messages table empty: its statistics were never persisted', () => {
    expect(result.persistedRowsAtKill).to.equal(0);
    expect(result.estimatedRowsAfterRestart).to.be.at.most(1);
  });

  it('completes every message exactly once across the restart: 0 duplicates, 0 lost, one status update each, the queue empty', () => {
    expect({ before: result.before.messages, after: result.after.messages }).to.deep.equal({ before: 15_000, after: 15_000 });
    expect({ duplicates: result.duplicates, lost: result.lost }).to.deep.equal({ duplicates: 0, lost: 0 });
    expect({ updates: result.statusUpdates, messages: result.messagesWithStatusUpdate, queue: result.queueLeft })
      .to.deep.equal({ updates: 30_000, messages: 30_000, queue: 0 });
  });

  it('reads as many rows per message after the restart as before: every claim and completion keeps its plan (a count, not a time)', () => {
    // Pinned, both phases read ~30 rows per message; claim_batch's old plain JOIN read ~680 after
    // the restart (the whole 30,000-row messages table per batch of 100).
    expect(result.before.rowsReadPerMessage).to.be.greaterThan(0);
    expect(result.after.rowsReadPerMessage).to.be.at.most(result.before.rowsReadPerMessage * 1.2 + 1);
  });

  it('no lease expires and no completion is refused under the default settings, before or after the restart', () => {
    expect([result.before.refusedBatches, result.after.refusedBatches, result.before.refusedMessages, result.after.refusedMessages]).to.deep.equal([0, 0, 0, 0]);
    expect({ open: result.openBatches, completedAfterLease: result.batchesCompletedAfterLease }).to.deep.equal({ open: 0, completedAfterLease: 0 });
  });
});
