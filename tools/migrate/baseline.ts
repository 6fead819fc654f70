// `migrate baseline --version N`: adopts a database built some other way (by hand, by an older
// tool, from a dump) by recording versions up to N as applied, in the ledger and in db-migrate's
// `migrations` table, but only after proving that its schema is what the history up to N
// produces. Any difference refuses the baseline with the list; --dry-run writes nothing at all.
import { UserError } from '../errors';
import { connect, parseUrl } from '../sql/connection';
import { detectServer } from '../sql/flavour';
import { splitForServer } from '../sql/runner';
import { acquireSchemaLock, DEFAULT_LOCK_TIMEOUT_SECONDS, releaseSchemaLock } from '../sql/schema-lock';
import { readCatalogue } from './catalogue';
import { Finding, findingLine } from './catalogue-compare';
import { compareSchema, liveSets } from './drift';
import { ensureLedger, ledgerExists, readLedger, recordApplied } from './ledger';
import { withReference } from './reference';
import { discoverMigrations, MigrationSource, REPEATABLE_DIR } from './sources';
import { projectRoot } from '../project';

export interface BaselineOptions {
  url: string;
  version: number;
  root?: string;
  dryRun?: boolean;
  lockTimeoutSeconds?: number;
  log?: (line: string) => void;
}

export interface BaselineFile {
  name: string;
  outcome: 'recorded' | 'would-record' | 'already-recorded' | 'not-attempted';
}

export interface BaselineReport {
  database: string;
  version: number;
  /** True when the schema equals the reference and (without --dry-run) the files were recorded. */
  ok: boolean;
  dryRun: boolean;
  findings: (Finding & { line: string })[];
  /** The files a baseline records (or would), each with what happened to it. */
  files: BaselineFile[];
  notes: string[];
  setsCompared: number;
  tablesCompared: number;
}

export async function migrateBaseline(options: BaselineOptions): Promise<BaselineReport> {
  const { database } = parseUrl(options.url);
  if (!database) throw new UserError('the URL must name a database (mysql://user@host:port/DATABASE)');
  const root = options.root ?? projectRoot();
  const sources = discoverMigrations(root);
  const versioned = sources.filter((s) => s.kind === 'versioned');
  if (!versioned.some((s) => s.version === options.version)) {
    throw new UserError(`--version ${options.version}: no versioned file has that version (the checkout has ${versioned.map((s) => s.version).join(', ')})`);
  }
  const newest = Math.max(...versioned.map((s) => s.version!));
  // Below the newest version `up` has not created routines yet and re-creates them all after the
  // remaining files: they are neither compared nor recorded then.
  const withRoutines = options.version >= newest;
  const toRecord: MigrationSource[] = sources.filter((s) => (s.kind === 'versioned' ? s.version! <= options.version : withRoutines));
  const notes: string[] = ['grants are not compared: `users apply` gives the registered users theirs'];
  if (!withRoutines) notes.push(`routines are not compared: version ${options.version} is not the newest (${newest}), and \`migrate up\` re-creates every routine after the remaining files`);

  const conn = await connect(options.url);
  let locked = false;
  try {
    if (!options.dryRun) {
      // Held from the comparison to the last record, so nothing changes the schema in between.
      await acquireSchemaLock(conn, database, options.lockTimeoutSeconds ?? DEFAULT_LOCK_TIMEOUT_SECONDS,
        (holder) => options.log?.(`waiting for the schema lock on ${database} (held by connection ${holder})`));
      locked = true;
    }
    const ledger = (await ledgerExists(conn)) ? await readLedger(conn) : [];
    const byName = new Map(toRecord.map((s) => [s.name, s]));
    // A ledger a baseline (perhaps a killed one) wrote is fine; any other history is not ours to overwrite.
    const foreign = ledger.find((e) => e.status !== 'applied' || byName.get(e.name)?.checksum !== e.checksum);
    if (foreign) {
      throw new UserError(`${database} already has a migration history (${foreign.name}.sql is ${foreign.status} in the ledger): baseline adopts a database without one; see \`migrate status\``);
    }
    const sets = await liveSets(conn, database);
    const result = await withReference({ url: options.url, root, version: options.version, routines: 'as-up', templateVersions: sets.map((s) => s.templateVersion) },
      async (reference) => {
        options.log?.(`reference: the history up to version ${options.version}, built in ${reference.buildSeconds.toFixed(1)} s`);
        const live = await readCatalogue(conn, database);
        return compareSchema(reference, live, sets, (r) => `${REPEATABLE_DIR}/${r.name}.sql`);
      });
    const findings = result.findings.map((f) => ({ ...f, line: findingLine(f) }));
    const already = new Set(ledger.map((e) => e.name));
    const report: BaselineReport = {
      database, version: options.version, ok: false, dryRun: Boolean(options.dryRun), findings, notes,
      files: toRecord.map((s) => ({ name: s.name, outcome: already.has(s.name) ? 'already-recorded' : findings.length ? 'not-attempted' : options.dryRun ? 'would-record' : 'not-attempted' })),
      setsCompared: result.setsCompared, tablesCompared: result.tablesCompared,
    };
    if (findings.length || options.dryRun) {
      report.ok = !findings.length;
      return report;
    }
    await ensureLedger(conn);
    const server = await detectServer(conn);
    for (const file of report.files) {
      if (file.outcome === 'already-recorded') continue;
      const source = byName.get(file.name)!;
      await recordApplied(conn, source, splitForServer(source.sql, server).length);
      file.outcome = 'recorded';
    }
    report.ok = true;
    return report;
  } finally {
    if (locked) await releaseSchemaLock(conn, database).catch(() => undefined);
    await conn.end().catch(() => conn.destroy());
  }
}
