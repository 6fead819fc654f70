// What `reminderly-db plans` prints: per routine, each statement and, per table it reads, the
// access type, index, estimated rows and extras; then what fails and why.
import path from 'path';
import { CheckResult, ExplainedStatement, Violation } from './check';
import { renderDiff, shorten } from './planfile';

/** The scenario a result is of, when it is not the recording one (plans/scenarios.json). */
export function scenarioLabel(result: Pick<CheckResult, 'scenarioFile' | 'statistics'>): string {
  const file = path.basename(result.scenarioFile);
  if (file === 'scenarios.json' && result.statistics === 'fresh') return '';
  return `${file}${result.statistics === 'empty' ? ' (empty statistics)' : ''}`;
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

function extrasOf(r: ExplainedStatement['rows'][number]): string {
  const parts: string[] = [];
  if (r.filesort) parts.push('filesort');
  if (r.temporary) parts.push('temporary');
  if (r.write) parts.push(r.write);
  if (r.note) parts.push(r.note);
  return parts.join(', ');
}

/** Marks on a row: the rules it breaks, or "excepted" with the reason. */
function marks(s: ExplainedStatement, table: string, violations: Violation[]): string {
  const own = violations.filter((v) => v.routine === s.routine && v.statement === s.fingerprint && v.table === table && v.rule !== 'exception-reason');
  return own.map((v) => (v.excepted ? `excepted ${v.rule}: ${shorten(v.excepted, 60)}` : `FAIL ${v.rule}`)).join('; ');
}

export function renderTable(result: CheckResult, width = 160): string {
  const lines: string[] = [];
  const routines = [...new Set(result.statements.map((s) => s.routine))].sort();
  const header = ['table', 'access', 'index', 'rows', 'extras'];
  for (const routine of routines) {
    const statements = result.statements.filter((s) => s.routine === routine);
    lines.push(`${routine}`);
    for (const [n, s] of statements.entries()) {
      const callers = s.calls.filter((c) => c !== routine);
      lines.push(`  ${n + 1}. ${shorten(s.fingerprint, width - 6)}${callers.length ? `   (from ${callers.join(', ')})` : ''}`);
      if (s.unexplained) {
        lines.push(`       not explained: ${s.unexplained}`);
        continue;
      }
      const cells = s.rows.map((r) => [
        `${r.table}${r.alias ? ` AS ${r.alias}` : ''}${r.select > 1 ? ` #${r.select}` : ''}`,
        r.access, r.index ?? '-', r.rows === null ? '-' : String(r.rows), extrasOf(r), marks(s, r.alias ?? r.table, result.violations),
      ]);
      const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
      lines.push('       ' + header.map((h, i) => pad(h, widths[i])).join('  ').trimEnd());
      for (const c of cells) {
        lines.push('       ' + [...c.slice(0, 5).map((v, i) => pad(v, widths[i])), c[5] ? `<- ${c[5]}` : ''].join('  ').trimEnd());
      }
    }
    lines.push('');
  }
  return lines.join('\n');
}

/** The findings: failures first, each with what to do. */
export function renderFindings(result: CheckResult): string {
  const lines: string[] = [];
  const failing = result.violations.filter((v) => !v.excepted);
  for (const v of failing) lines.push(`FAIL ${v.rule}: ${v.message}`);
  for (const d of result.diffs) lines.push(`FAIL ${renderDiff(d, result.flavour)}`);
  if (result.diffs.length) {
    lines.push(result.record
      ? `     (a deliberate change? run \`reminderly-db plans --update\` and commit ${result.planFile})`
      : `     (this scenario is held to the plans recorded in ${result.planFile} with fresh statistics: pin the statement to its recorded plan, e.g. STRAIGHT_JOIN / FORCE INDEX)`);
  }
  for (const f of result.lint) lines.push(`${f.fails ? 'FAIL' : 'note'} index ${f.kind}: ${f.message}`);
  for (const w of result.warnings) lines.push(`note ${w}`);
  const explained = result.statements.filter((s) => !s.unexplained).length;
  const failures = failing.length + result.diffs.length + result.lint.filter((f) => f.fails).length;
  const label = scenarioLabel(result);
  lines.push(`${result.ok ? 'ok' : 'FAILED'}: ${result.flavour} ${result.version}${label ? `, ${label}` : ''}, ${result.statements.length} statements `
    + `(${explained} explained) of ${new Set(result.statements.map((s) => s.routine)).size} routines; `
    + `${failures} failure(s), ${result.violations.filter((v) => v.excepted).length} excepted`
    + (result.updated ? `; wrote ${result.planFile}` : ''));
  return lines.join('\n');
}

/** --json: everything, as data. */
export function jsonReport(result: CheckResult): unknown {
  return {
    ok: result.ok,
    scenario: path.basename(result.scenarioFile),
    statistics: result.statistics,
    ...(result.emptyStatistics ? { emptyStatistics: result.emptyStatistics } : {}),
    server: { flavour: result.flavour, version: result.version },
    planFile: result.planFile,
    updated: result.updated,
    routines: [...new Set(result.statements.map((s) => s.routine))].sort().map((routine) => ({
      routine,
      statements: result.statements.filter((s) => s.routine === routine).map((s) => ({
        statement: s.fingerprint, calls: s.calls, runs: s.runs, ...(s.unexplained ? { unexplained: s.unexplained } : {}),
        tables: s.rows.map((r) => ({
          select: r.select, table: r.table, ...(r.alias ? { alias: r.alias } : {}), access: r.access, index: r.index, rows: r.rows,
          filesort: r.filesort, temporary: r.temporary, ...(r.write ? { write: r.write } : {}), ...(r.note ? { note: r.note } : {}),
        })),
      })),
    })),
    violations: result.violations,
    planDiffs: result.diffs,
    indexLint: result.lint,
    tableSizes: result.sizes,
    warnings: result.warnings,
  };
}
