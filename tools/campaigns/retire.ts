// `campaign retire`: a campaign set is dropped only after a verified dump of all its tables.
//
// Steps, each named when it fails (and then nothing is dropped):
//   preflight   output folder writable, dump tool and client on PATH, the set exists
//   unfinished  no message without a final status (history_move_preview's definition), unless --force
//   checksum    row count and row checksum of every table of the set
//   dump        one consistent dump of every table (--single-transaction) to DIR/campaign_<id>.sql.gz
//   manifest    DIR/campaign_<id>.manifest.json: every table's rows and checksum, the file's SHA-256
//   verify      the dump restored into the scratch schema <db>_verify holds exactly those rows
//   drop        the tables still hold exactly what was verified; then campaign_set_drop(<id>)
// The caller holds the schema lock; the set's own lock (campaign_set_lock_name) is held from the
// checksums to the drop, so history moves and upgrades of the set wait. A run killed anywhere is
// finished by running it again: a dump whose manifest matches the tables is reused (and verified
// again), and a set whose drop was cut short is finished from its verified dump.
import fs from 'fs';
import path from 'path';
import { OperationError, UserError } from '../errors';
import { Connection, parseUrl, queryRows } from '../sql/connection';
import { detectServer, ServerInfo } from '../sql/flavour';
import { isRoutineSignal } from '../sql/signals';
import { tableChecksum } from '../maintenance/checksum';
import { dumpTables } from '../maintenance/dump';
import { previewHistory } from '../maintenance/history';
import { readManifest, SetManifest, writeManifest } from '../maintenance/offload';
import { DumpedTable, ensureWritableFolder, pauseIfAsked, requireTool, verifyDumpFile } from '../maintenance/verified-dump';
import { verifyScratchName } from '../maintenance/verify-scratch';
import { tableKinds } from './sets';

export type RetireStep = 'preflight' | 'unfinished' | 'checksum' | 'dump' | 'manifest' | 'verify' | 'drop';

export class RetireStepError extends OperationError {
  constructor(readonly campaignId: number, readonly step: RetireStep, reason: string) {
    super(`campaign ${campaignId}: ${step} failed: ${reason}; nothing was dropped`);
  }
}

export interface RetireOptions {
  /** The database's URL (the dump tool and the verification restore connect with it). */
  url: string;
  campaignId: number;
  outDir: string;
  force?: boolean;
  /** Seconds to wait for the set's lock (a history move or upgrade of the set in progress). */
  lockTimeout?: number;
  log?: (line: string) => void;
}

export interface RetireResult {
  campaignId: number;
  outcome: 'retired' | 'already-retired';
  /** Messages without a final status when the set was retired (only with --force can it be > 0). */
  unfinished: number;
  tables: DumpedTable[];
  rows: number;
  file?: string;
  manifest?: string;
  /** True when an earlier, interrupted run's dump was verified and used. */
  reusedDump: boolean;
}

export function setDumpFileName(campaignId: number): string {
  return `campaign_${campaignId}.sql.gz`;
}

export function setManifestFileName(campaignId: number): string {
  return `campaign_${campaignId}.manifest.json`;
}

async function step<T>(campaignId: number, name: RetireStep, fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof RetireStepError || err instanceof UserError) throw err;
    const e = err as { sqlMessage?: string; message: string };
    throw new RetireStepError(campaignId, name, e.sqlMessage ?? e.message);
  }
}

/** The set's tables, by kind, and which of them exist now. */
async function setTables(conn: Connection, campaignId: number): Promise<{ all: string[]; existing: string[] }> {
  const all: string[] = [];
  for (const kind of await tableKinds(conn)) {
    const [row] = await queryRows<{ name: string }>(conn, 'SELECT campaign_table_name(?, ?) AS name', [campaignId, kind]);
    all.push(row.name);
  }
  const present = await queryRows<{ name: string }>(conn,
    `SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (${all.map(() => '?').join(', ')})`, all);
  const names = new Set(present.map((p) => p.name));
  return { all, existing: all.filter((t) => names.has(t)) };
}

export async function retireCampaignSet(conn: Connection, options: RetireOptions): Promise<RetireResult> {
  const { campaignId } = options;
  const database = parseUrl(options.url).database;
  if (!database) throw new UserError('the URL must name a database');
  // Before anything changes: a database whose name is too long for <db>_verify is refused here.
  const scratch = verifyScratchName(database);
  const log = options.log ?? (() => undefined);
  const file = path.join(options.outDir, setDumpFileName(campaignId));
  const manifestFile = path.join(options.outDir, setManifestFileName(campaignId));

  const [set] = await queryRows<{ state: string; template_version: number }>(conn,
    'SELECT s.state, s.template_version FROM campaigns c LEFT JOIN campaign_sets s ON s.campaign_id = c.id WHERE c.id = ?', [campaignId]);
  if (!set) throw new UserError(`campaign ${campaignId} does not exist`);
  if (set.state === null) throw new UserError(`campaign ${campaignId} has no table set`);
  if (set.state === 'retired') {
    return { campaignId, outcome: 'already-retired', unfinished: 0, tables: [], rows: 0, reusedDump: false };
  }

  let server: ServerInfo;
  let tool = '';
  await step(campaignId, 'preflight', async () => {
    server = await detectServer(conn);
    try {
      ensureWritableFolder(options.outDir);
    } catch (err) {
      // The CLI checks --out before the schema lock (a UserError); called directly, it is this step's failure.
      throw new RetireStepError(campaignId, 'preflight', (err as Error).message);
    }
    tool = await requireTool(server.dumpCommand);
    await requireTool(server.clientCommand);
  });

  const lockName = (await queryRows<{ name: string }>(conn, 'SELECT campaign_set_lock_name(?) AS name', [campaignId]))[0].name;
  const timeout = options.lockTimeout ?? 60;
  const [got] = await queryRows<{ got: number | null }>(conn, 'SELECT GET_LOCK(?, ?) AS got', [lockName, timeout]);
  if (got.got !== 1) throw new RetireStepError(campaignId, 'preflight', `another session is changing the set (its lock was busy for ${timeout} s)`);
  try {
    const { all, existing } = await setTables(conn, campaignId);
    const partlyDropped = existing.length < all.length;
    let manifest = readManifest<SetManifest>(manifestFile);
    if (manifest && (manifest.kind !== 'campaign-set' || manifest.campaignId !== campaignId || manifest.database !== database)) manifest = null;

    // A set missing some of its tables is one whose drop was cut short: it may only be finished
    // from the verified dump of the earlier run, never dumped again (the dump would lack them).
    if (partlyDropped && !manifest) {
      throw new RetireStepError(campaignId, 'preflight',
        `the set lacks ${all.length - existing.length} of its ${all.length} tables (an interrupted drop?) and ${path.basename(manifestFile)} is not in ${options.outDir} to finish from`);
    }

    let unfinished = 0;
    if (!partlyDropped) {
      unfinished = await step(campaignId, 'unfinished', async () => {
        try {
          return (await previewHistory(conn, campaignId, 0)).unfinished;
        } catch (err) {
          if (isRoutineSignal(err)) throw new UserError(`campaign ${campaignId}: ${err.sqlMessage.replace(/^history_move_preview: /, '')}`);
          throw err;
        }
      });
      if (unfinished > 0 && !options.force) {
        throw new UserError(`campaign ${campaignId} has ${unfinished} unfinished message(s) (no status yet, or one not final): nothing was changed; --force retires it anyway`);
      }
    }

    const source: DumpedTable[] = await step(campaignId, 'checksum', async () => {
      const out: DumpedTable[] = [];
      for (const table of existing) out.push({ table, ...(await tableChecksum(conn, database, table)) });
      return out;
    });

    const matches = (m: SetManifest | null): m is SetManifest => !!m && fs.existsSync(file) && source.every((s) => {
      const t = m.tables.find((x) => x.table === s.table);
      return !!t && t.rows === s.rows && t.checksum === s.checksum;
    });
    const reusedDump = matches(manifest);
    if (!reusedDump) {
      if (partlyDropped) {
        throw new RetireStepError(campaignId, 'checksum', `the tables left of the partly dropped set differ from ${path.basename(manifestFile)}`);
      }
      log(`campaign ${campaignId}: dumping ${existing.length} tables`);
      const sha256 = await step(campaignId, 'dump', () => dumpTables(server, options.url, database, existing, file, { onStarted: () => pauseIfAsked('dump') }));
      const written: SetManifest = {
        format: 1, kind: 'campaign-set', database, campaignId, templateVersion: Number(set.template_version),
        tables: source, rows: source.reduce((n, t) => n + t.rows, 0), file: path.basename(file), sha256,
        server: server!.versionComment, tool, createdAt: new Date().toISOString(),
      };
      await step(campaignId, 'manifest', () => writeManifest(manifestFile, written));
      manifest = written;
    }
    const verified = manifest!;
    log(`campaign ${campaignId}: verifying ${path.basename(file)} by restoring it into ${scratch}`);
    await step(campaignId, 'verify', () => verifyDumpFile(server, options.url, file, verified.sha256, verified.tables,
      { afterRestore: () => pauseIfAsked('verify') }));
    await pauseIfAsked('drop');

    await step(campaignId, 'drop', async () => {
      // What is dropped must be what was verified: the app may have written since the dump.
      for (const table of (await setTables(conn, campaignId)).existing) {
        const now = await tableChecksum(conn, database, table);
        const want = verified.tables.find((t) => t.table === table);
        if (!want || now.rows !== want.rows || now.checksum !== want.checksum) {
          throw new Error(`${table} changed after it was dumped (${now.rows} rows now, ${want?.rows ?? 'none'} dumped); run retire again`);
        }
      }
      await conn.query('CALL campaign_set_drop(?)', [campaignId]);
    });
    return {
      campaignId, outcome: 'retired', unfinished, tables: verified.tables, rows: verified.rows, file, manifest: manifestFile, reusedDump,
    };
  } finally {
    await conn.query('DO RELEASE_LOCK(?)', [lockName]).catch(() => undefined);
  }
}
