// Where the figures came from: the machine (and how busy it was) and the server with the settings
// that decide write costs (durability) and claim behaviour (isolation).
import os from 'os';
import { Connection, queryRows, redactUrl } from '../sql/connection';
import { ServerInfo } from '../sql/flavour';
import { MachineInfo, ServerReport } from './types';

export async function describeServerForBench(conn: Connection, server: ServerInfo, url: string): Promise<ServerReport> {
  const names = ['innodb_flush_log_at_trx_commit', 'sync_binlog', 'log_bin', 'binlog_format', 'innodb_doublewrite', 'innodb_buffer_pool_size',
    server.isolationVariable];
  const rows = await queryRows<{ Variable_name: string; Value: string }>(conn,
    `SHOW GLOBAL VARIABLES WHERE Variable_name IN (${names.map(() => '?').join(', ')})`, names);
  const v = (name: string) => rows.find((r) => r.Variable_name === name)?.Value ?? null;
  const pool = v('innodb_buffer_pool_size');
  return {
    url: redactUrl(url),
    flavour: server.flavour,
    version: server.version,
    versionComment: server.versionComment,
    durability: {
      innodb_flush_log_at_trx_commit: v('innodb_flush_log_at_trx_commit'),
      sync_binlog: v('sync_binlog'),
      log_bin: v('log_bin'),
      binlog_format: v('binlog_format'),
      innodb_doublewrite: v('innodb_doublewrite'),
    },
    innodb_buffer_pool_size_mb: pool === null ? null : Math.round(Number(pool) / 1048576),
    isolation: v(server.isolationVariable),
    local_infile: server.localInfile,
  };
}

/** Samples the 1-minute load average every 5 s: a shared machine's figures are only as good as its load. */
export function startLoadSampler(): { stop(): MachineInfo['load'] } {
  const samples = [os.loadavg()[0]];
  const timer = setInterval(() => samples.push(os.loadavg()[0]), 5000);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      samples.push(os.loadavg()[0]);
      const round = (n: number) => Math.round(n * 100) / 100;
      return {
        start: round(samples[0]), end: round(samples[samples.length - 1]), max: round(Math.max(...samples)),
        mean: round(samples.reduce((a, b) => a + b, 0) / samples.length),
      };
    },
  };
}

export function describeMachine(load: MachineInfo['load']): MachineInfo {
  const cpus = os.cpus();
  const busy = load.mean > cpus.length * 0.75;
  return {
    hostname: os.hostname(),
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    load,
    note: busy
      ? `busy: mean 1-minute load ${load.mean} on ${cpus.length} CPUs (other work shared the machine; the bench itself adds up to ~2): figures are noisy`
      : `mean 1-minute load ${load.mean} on ${cpus.length} CPUs`,
  };
}
