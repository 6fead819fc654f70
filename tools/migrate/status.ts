// Pure comparison of the checkout's migration files with a database's ledger: the basis of
// `status`, `validate`, and what `up` will do.
import { LedgerEntry } from './ledger';
import { MigrationKind, MigrationSource } from './sources';

export type FileState =
  | 'applied'      // in the ledger, same checksum
  | 'pending'      // not applied yet (or, for a repeatable file, changed since: it will be re-applied)
  | 'changed'      // a versioned file edited after it was applied
  | 'failed'       // a statement failed; `up --resume` or `migrate repair` needed
  | 'interrupted'  // the run applying it died mid-file; `up --resume` or `migrate repair` needed
  | 'running'      // being applied right now by another run
  | 'missing';     // applied, but no longer in this checkout (deleted, or from another branch)

export interface FileStatus {
  name: string;
  kind: MigrationKind;
  version: number | null;
  state: FileState;
  checksum: string | null;
  appliedChecksum: string | null;
  appliedAt: Date | null;
  /** For failed or interrupted files: the 0-based index of the statement to resume from. */
  resumeAt: number | null;
  statementsTotal: number | null;
  error: string | null;
}

export function compareWithLedger(sources: MigrationSource[], ledger: LedgerEntry[], runInProgress: boolean): FileStatus[] {
  const byName = new Map(ledger.map((e) => [e.name, e]));
  const statuses: FileStatus[] = sources.map((source) => {
    const entry = byName.get(source.name);
    byName.delete(source.name);
    return {
      name: source.name,
      kind: source.kind,
      version: source.version,
      state: stateOf(source, entry, runInProgress),
      checksum: source.checksum,
      appliedChecksum: entry?.checksum ?? null,
      appliedAt: entry?.status === 'applied' ? entry.finishedAt : null,
      resumeAt: entry && entry.status !== 'applied' ? entry.statementsDone : null,
      statementsTotal: entry?.statementsTotal ?? null,
      error: entry?.status === 'failed' ? entry.errorMessage : null,
    };
  });
  for (const entry of byName.values()) {
    statuses.push({
      name: entry.name, kind: entry.kind, version: entry.version, state: 'missing', checksum: null,
      appliedChecksum: entry.checksum, appliedAt: entry.finishedAt, resumeAt: null, statementsTotal: entry.statementsTotal,
      error: entry.errorMessage,
    });
  }
  return statuses;
}

function stateOf(source: MigrationSource, entry: LedgerEntry | undefined, runInProgress: boolean): FileState {
  if (!entry) return 'pending';
  if (entry.status === 'running') return runInProgress ? 'running' : 'interrupted';
  if (entry.status === 'failed') return 'failed';
  if (entry.checksum === source.checksum) return 'applied';
  return source.kind === 'repeatable' ? 'pending' : 'changed';
}

export interface ValidationProblem {
  name: string;
  problem: string;
}

/** What makes a database's history disagree with the checkout; empty when they agree. */
export function validationProblems(statuses: FileStatus[]): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  const highestApplied = Math.max(0, ...statuses
    .filter((s) => s.kind === 'versioned' && s.state !== 'pending' && s.version !== null)
    .map((s) => s.version!));
  for (const s of statuses) {
    if (s.state === 'changed') problems.push({ name: s.name, problem: `edited after it was applied (checksum ${short(s.appliedChecksum)} applied, ${short(s.checksum)} now)` });
    else if (s.state === 'missing' && s.kind === 'versioned') problems.push({ name: s.name, problem: 'applied, but not in this checkout (deleted, renamed, or from another branch)' });
    else if (s.state === 'failed') problems.push({ name: s.name, problem: `failed at statement ${s.resumeAt! + 1}: ${s.error ?? ''}`.trim() });
    else if (s.state === 'interrupted') problems.push({ name: s.name, problem: `interrupted at statement ${s.resumeAt! + 1} (the run applying it died)` });
    else if (s.state === 'pending' && s.kind === 'versioned' && s.version! < highestApplied) {
      problems.push({ name: s.name, problem: `pending, but older than applied version ${highestApplied} (out of order)` });
    }
  }
  return problems;
}

function short(checksum: string | null): string {
  return checksum ? checksum.slice(0, 12) : '-';
}
