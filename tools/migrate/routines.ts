// How a repeatable file's routine statements are sent, per server (ServerInfo.routineReplace):
// on MariaDB "DROP ... IF EXISTS x; CREATE PROCEDURE x" becomes one CREATE OR REPLACE, so the
// routine is never absent and keeps its grants; on MySQL the file runs as written and the
// migrator re-grants right after each CREATE on the same connection.
import { ServerInfo } from '../sql/flavour';
import { SqlStatement } from '../sql/splitter';
import { leadingCode } from './statement-kind';

const CREATE_ROUTINE = /^CREATE\s+(?:OR\s+REPLACE\s+)?(?:DEFINER\s*=\s*\S+\s+)?(PROCEDURE|FUNCTION)\s+(?:IF\s+NOT\s+EXISTS\s+)?`?([A-Za-z0-9_$]+)`?/i;
const DROP_ROUTINE = /^DROP\s+(PROCEDURE|FUNCTION)\s+IF\s+EXISTS\s+`?([A-Za-z0-9_$]+)`?\s*$/i;

/** The routine a statement creates, if it is a CREATE PROCEDURE/FUNCTION. */
export function createdRoutine(text: string): string | null {
  return CREATE_ROUTINE.exec(leadingCode(text))?.[2] ?? null;
}

export function routineStatements(server: ServerInfo, statements: SqlStatement[]): SqlStatement[] {
  if (server.routineReplace !== 'create-or-replace') return statements;
  const created = new Set(statements.map((s) => {
    const m = CREATE_ROUTINE.exec(leadingCode(s.text));
    return m ? `${m[1].toUpperCase()} ${m[2].toLowerCase()}` : null;
  }).filter((k): k is string => k !== null));
  const kept = statements.filter((s) => {
    const m = DROP_ROUTINE.exec(leadingCode(s.text).replace(/;\s*$/, ''));
    return !(m && created.has(`${m[1].toUpperCase()} ${m[2].toLowerCase()}`));
  });
  return kept.map((s, index) => {
    if (!CREATE_ROUTINE.test(leadingCode(s.text)) || /^CREATE\s+OR\s+REPLACE\b/i.test(leadingCode(s.text))) return { ...s, index };
    const code = leadingCode(s.text);
    const prefix = s.text.slice(0, s.text.length - code.length);
    return { ...s, index, text: prefix + code.replace(/^CREATE\s+/i, 'CREATE OR REPLACE ') };
  });
}
