// The pure parts of `health`: thresholds from database.json and flags, alarms from metrics, the outputs.
import { expect } from 'chai';
import { evaluateAlarms } from '../../tools/health/alarms';
import { formatPrometheus, formatText, healthReport } from '../../tools/health/format';
import { CampaignMetrics, HealthMetrics } from '../../tools/health/metrics';
import { DEFAULT_THRESHOLDS, thresholdsFromSettings, withOverrides } from '../../tools/health/thresholds';
import { parseWindow } from '../../tools/health/command';
import { parsePrometheus } from './prometheus';

const campaign = (over: Partial<CampaignMetrics> = {}): CampaignMetrics => ({
  campaignId: 12, name: 'c', state: 'active', ready: 5, claimed: 2, completed: 10, sent: 9, failed: 1, retried: 2,
  oldestReadyAt: '2026-01-01T00:00:00.000Z', oldestReadySeconds: 60, leasesOpen: 1, leasesExpired: 0, expiredLeaseMessages: 0,
  claimedInWindow: 30, batchesInWindow: 3, claimRatePerMinute: 2, ...over,
});

const metrics = (over: Partial<HealthMetrics['server']> = {}, campaigns = [campaign()]): HealthMetrics => ({
  windowMinutes: 15,
  campaigns,
  server: {
    database: 'db', measuredAt: '2026-01-01T00:01:00.000Z',
    logTables: [{ table: 'log_events', base: 'log_events', rotated: false, rowsEstimate: 3, bytes: 16384, oldestRowAt: '2026-01-01T00:00:00.000Z', oldestRowSeconds: 60 }],
    historyTables: [{ kind: 'batches_history', tables: 1, rowsEstimate: 0, bytes: 16384 }],
    replicas: [],
    maintenance: { history: null, 'rotate-logs': null, offload: null, run: null },
    ...over,
  },
});

describe('health thresholds', () => {
  it('take the defaults, then the environment\'s "health" object, then flags', () => {
    expect(thresholdsFromSettings({}, 'database.json, environment "x"')).to.deep.equal(DEFAULT_THRESHOLDS);
    const configured = thresholdsFromSettings({ health: { oldestReadyMinutes: 5, replicaLagSeconds: null, offloadFailed: false } }, 'database.json, environment "x"');
    expect(configured).to.deep.equal({ ...DEFAULT_THRESHOLDS, oldestReadyMinutes: 5, replicaLagSeconds: null, offloadFailed: false });
    expect(withOverrides(configured, { expiredLeases: '3', oldestReadyMinutes: 'off', offloadFailed: 'true' }))
      .to.deep.equal({ ...configured, expiredLeases: 3, oldestReadyMinutes: null, offloadFailed: true });
  });

  it('refuse an unknown key or a bad value, naming database.json, the environment and the key', () => {
    expect(() => thresholdsFromSettings({ health: { oldestReady: 5 } }, 'database.json, environment "prod"'))
      .to.throw(/^database.json, environment "prod", "health": unknown health threshold "oldestReady" \(known: oldestReadyMinutes/);
    expect(() => thresholdsFromSettings({ health: { expiredLeases: -1 } }, 'database.json, environment "prod"'))
      .to.throw(/database.json, environment "prod", "health": health threshold "expiredLeases" must be a number/);
    expect(() => thresholdsFromSettings({ health: { offloadFailed: 'yes' } }, 'database.json, environment "prod"')).to.throw(/"offloadFailed" must be true or false/);
    expect(() => thresholdsFromSettings({ health: [1] }, 'database.json, environment "prod"')).to.throw(/"health" must be an object/);
    expect(() => withOverrides(DEFAULT_THRESHOLDS, { replicaLagSeconds: 'soon' })).to.throw(/^--replica-lag-seconds: health threshold "replicaLagSeconds" must be a number/);
  });

  it('read the claim-rate window as minutes or hours, 1m to 24h', () => {
    expect(parseWindow('15m')).to.equal(15);
    expect(parseWindow('2h')).to.equal(120);
    expect(parseWindow('5')).to.equal(5);
    expect(() => parseWindow('0m')).to.throw(/--window must be 1m to 24h/);
    expect(() => parseWindow('25h')).to.throw(/--window/);
    expect(() => parseWindow('soon')).to.throw(/--window/);
  });
});

describe('health alarms', () => {
  it('none while every metric is within its threshold', () => {
    expect(evaluateAlarms(metrics(), DEFAULT_THRESHOLDS)).to.deep.equal([]);
  });

  it('an old ready message and expired leases, per campaign, with value and threshold', () => {
    const alarms = evaluateAlarms(metrics({}, [campaign({ oldestReadySeconds: 16 * 60 + 30, leasesExpired: 2, expiredLeaseMessages: 7 })]), DEFAULT_THRESHOLDS);
    expect(alarms.map(({ name, subject, value, threshold }) => ({ name, subject, value, threshold }))).to.deep.equal([
      { name: 'oldest_ready', subject: 'campaign 12', value: 16.5, threshold: 15 },
      { name: 'expired_leases', subject: 'campaign 12', value: 2, threshold: 0 },
    ]);
    expect(alarms[1].message).to.equal('campaign 12: 2 expired lease(s) still holding 7 message(s) (threshold 0)');
    expect(evaluateAlarms(metrics({}, [campaign({ oldestReadySeconds: 15 * 60 })]), DEFAULT_THRESHOLDS)).to.deep.equal([]);
    expect(evaluateAlarms(metrics({}, [campaign({ oldestReadySeconds: 99999, leasesExpired: 9 })]),
      { ...DEFAULT_THRESHOLDS, oldestReadyMinutes: null, expiredLeases: null })).to.deep.equal([]);
  });

  it('an overdue rotation (live tables only), a stopped, unreachable or lagging replica, a failed last offload', () => {
    const alarms = evaluateAlarms(metrics({
      logTables: [
        { table: 'log_events', base: 'log_events', rotated: false, rowsEstimate: 1, bytes: 1, oldestRowAt: 'x', oldestRowSeconds: 25 * 3600 },
        { table: 'log_events__20250101_20250102', base: 'log_events', rotated: true, rowsEstimate: 1, bytes: 1, oldestRowAt: null, oldestRowSeconds: null },
      ],
      replicas: [
        { replica: 'mysql://a', reachable: false, running: false, lagSeconds: null, source: null, error: 'cannot connect' },
        { replica: 'mysql://b', reachable: true, running: false, lagSeconds: null, source: 'p:1', error: 'replication threads stopped' },
        { replica: 'mysql://c', reachable: true, running: true, lagSeconds: 31, source: 'p:1', error: null },
        { replica: 'mysql://d', reachable: true, running: true, lagSeconds: 30, source: 'p:1', error: null },
      ],
      maintenance: { history: null, 'rotate-logs': null, run: null,
        offload: { step: 'offload', startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:01:00.000Z', ok: false, detail: 'verify failed' } },
    }), DEFAULT_THRESHOLDS);
    expect(alarms.map((a) => `${a.name} ${a.subject} ${a.value}`)).to.deep.equal([
      'log_rotation log_events 25', 'replica_down mysql://a unreachable', 'replica_down mysql://b stopped', 'replica_lag mysql://c 31',
      'offload_failed offload 2026-01-01T00:00:00.000Z',
    ]);
    expect(alarms[4].message).to.match(/failed: verify failed$/);
  });
});

describe('health output', () => {
  it('text lists the breached alarms first', () => {
    const m = metrics({}, [campaign({ leasesExpired: 1 })]);
    const text = formatText(healthReport(m, DEFAULT_THRESHOLDS, evaluateAlarms(m, DEFAULT_THRESHOLDS)));
    expect(text.split('\n').slice(0, 2)).to.deep.equal(['ALARM: 1 threshold(s) breached', '  expired_leases campaign 12: campaign 12: 1 expired lease(s) still holding 0 message(s) (threshold 0)']);
  });

  it('Prometheus text format 0.0.4 that parses, with a HELP and TYPE per family and escaped labels', () => {
    const m = metrics({ replicas: [{ replica: 'mysql://r"\\x', reachable: false, running: false, lagSeconds: null, source: null, error: 'e' }] });
    const text = formatPrometheus(healthReport(m, DEFAULT_THRESHOLDS, evaluateAlarms(m, DEFAULT_THRESHOLDS)));
    const families = parsePrometheus(text);
    expect(families.get('reminderly_campaign_ready_messages')!.samples).to.deep.equal([{ labels: { campaign_id: '12' }, value: 5 }]);
    expect(families.get('reminderly_replica_up')!.samples).to.deep.equal([{ labels: { replica: 'mysql://r"\\x' }, value: 0 }]);
    expect(families.get('reminderly_health_healthy')!.samples[0].value).to.equal(0);
    expect(families.get('reminderly_health_alarm')!.samples).to.deep.equal([{ labels: { alarm: 'replica_down', subject: 'mysql://r"\\x' }, value: 1 }]);
  });
});
