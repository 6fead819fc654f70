// The routing and refusal decisions that need no server: which replica a read goes to given the
// replicas' statuses, what counts as a connection error, and which URLs database.json lists as replicas.
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { campaignSummary, claimBatch } from '../../bindings';
import { chooseReplica, createRouter, isConnectionError, isRouter, judgeReplica, routeOf } from '../../bindings/routing';
import type { ReplicaStatus } from '../../bindings/replica-status';
import { resolveTarget } from '../../tools/config/environments';
import { UserError } from '../../tools/errors';
import { assertNotListedReplica } from '../../tools/sql/primary';

const status = (over: Partial<ReplicaStatus> = {}): ReplicaStatus => ({ running: true, lagSeconds: 0, source: '10.0.0.1:3306', lastError: '', ...over });

describe('replicas: routing decisions', () => {
  it('judges a replica by its threads and its lag', () => {
    expect(judgeReplica(status(), 10)).to.deep.equal({ healthy: true, reason: 'ok' });
    expect(judgeReplica(status({ lagSeconds: 10 }), 10)).to.deep.equal({ healthy: true, reason: 'ok' });
    expect(judgeReplica(status({ lagSeconds: 11 }), 10)).to.deep.equal({ healthy: false, reason: 'lag 11 s > 10 s' });
    expect(judgeReplica(status({ lagSeconds: null }), 10)).to.deep.equal({ healthy: false, reason: 'lag unknown' });
    expect(judgeReplica(status({ running: false, lagSeconds: null, lastError: 'Error 1062' }), 10))
      .to.deep.equal({ healthy: false, reason: 'replication stopped: Error 1062' });
    expect(judgeReplica(null, 10)).to.deep.equal({ healthy: false, reason: 'not a replica (no replication configured)' });
    expect(judgeReplica(new Error('connect ECONNREFUSED'), 10)).to.deep.equal({ healthy: false, reason: 'status check failed: connect ECONNREFUSED' });
  });

  it('takes healthy replicas in turn and none when none is healthy', () => {
    const h = (...healthy: boolean[]) => healthy.map((x) => ({ healthy: x }));
    expect(chooseReplica(h(true, true, true), 0)).to.equal(0);
    expect(chooseReplica(h(true, true, true), 2)).to.equal(2);
    expect(chooseReplica(h(true, false, true), 1)).to.equal(2);
    expect(chooseReplica(h(true, false, false), 1)).to.equal(0);
    expect(chooseReplica(h(false, false), 0)).to.equal(null);
    expect(chooseReplica([], 0)).to.equal(null);
  });

  it('routeOf: read-only bindings go to a replica, the rest to the primary, unless the call says otherwise', () => {
    expect(routeOf(campaignSummary)).to.equal('replica');
    expect(routeOf(claimBatch)).to.equal('primary');
    expect(routeOf(campaignSummary, { route: 'primary' })).to.equal('primary');
  });

  it('tells connection errors (worth another server) from statement errors (not)', () => {
    expect(isConnectionError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).to.equal(true);
    expect(isConnectionError(Object.assign(new Error('Connection lost'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true }))).to.equal(true);
    expect(isConnectionError(new Error("Can't add new command when connection is in closed state"))).to.equal(true);
    expect(isConnectionError(Object.assign(new Error('Deadlock found'), { code: 'ER_LOCK_DEADLOCK', errno: 1213 }))).to.equal(false);
    expect(isConnectionError(Object.assign(new Error('access denied'), { sqlState: '45000', errno: 1644 }))).to.equal(false);
    expect(isConnectionError(null)).to.equal(false);
  });

  it('a router without replicas sends every call to the primary, saying why for reads', async () => {
    const reasons: string[] = [];
    const primary = {} as never;
    const router = createRouter({ primary, onFallback: (e) => reasons.push(e.reason) });
    expect(isRouter(router)).to.equal(true);
    expect(isRouter(primary)).to.equal(false);
    expect(await router.pick({ routine: 'campaign_summary', readOnly: true })).to.deep.equal({ route: 'primary', db: primary, replicaIndex: null, fallbackReason: 'no replica configured' });
    expect(await router.pick({ routine: 'claim_batch', readOnly: false })).to.deep.include({ route: 'primary', fallbackReason: null });
    expect(reasons).to.deep.equal(['no replica configured']);
  });
});

describe('replicas: URLs database.json lists as replicas', () => {
  let dir: string;
  let file: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-replica-config-'));
    file = path.join(dir, 'database.json');
    fs.writeFileSync(file, JSON.stringify({
      defaultEnv: 'staging',
      staging: {
        driver: 'mysql', url: 'mysql://app@10.0.0.4:3306/reminderly',
        replicas: ['mysql://reader@10.0.0.5:3307/reminderly', { ENV: 'RDB_SPEC_REPLICA_URL' }],
      },
      other: { driver: 'mysql', url: { ENV: 'RDB_SPEC_UNSET_URL' }, replicas: [{ ENV: 'RDB_SPEC_UNSET_REPLICA' }] },
    }));
    process.env.RDB_SPEC_REPLICA_URL = 'mysql://reader@db-replica-2.internal:3306/reminderly';
  });
  after(() => {
    delete process.env.RDB_SPEC_REPLICA_URL;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses --url at a listed replica (any database on it), naming the environment', () => {
    const refusal = (url: string) => {
      try {
        assertNotListedReplica(url, 'migrate up', file);
        return null;
      } catch (err) {
        expect(err).to.be.instanceOf(UserError);
        return (err as Error).message;
      }
    };
    expect(refusal('mysql://root@10.0.0.5:3307/another_db')).to.equal(
      'migrate up refused: 10.0.0.5:3307 is listed as a replica of environment "staging" in database.json; run it on the primary');
    expect(refusal('mysql://root@db-replica-2.internal/reminderly')).to.match(/^migrate up refused: db-replica-2\.internal:3306 is listed as a replica/);
    expect(refusal('mysql://app@10.0.0.4:3306/reminderly')).to.equal(null);
    expect(refusal('mysql://app@10.0.0.5:3306/reminderly')).to.equal(null);
  });

  it('resolveTarget hands the environment its replicas', () => {
    expect(resolveTarget({ env: 'staging', configFile: file }).replicas).to.deep.equal([
      'mysql://reader@10.0.0.5:3307/reminderly', 'mysql://reader@db-replica-2.internal:3306/reminderly',
    ]);
  });
});
