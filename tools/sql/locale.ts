// The locale's codeset, as the command-line client sees it: it calls setlocale(LC_CTYPE, "") and
// nl_langinfo(CODESET) to pick its default character set (flavour.clientDefaultCharacterSet).
// Node cannot call either, so it asks `locale charmap`, which does exactly that.
import { spawnSync } from 'child_process';

/** The codeset (e.g. "UTF-8", "ANSI_X3.4-1968"), or null when the environment names a locale that cannot be set. */
export function localeCodeset(env: NodeJS.ProcessEnv = process.env): string | null {
  const result = spawnSync('locale', ['charmap'], { env, encoding: 'utf8', timeout: 5_000 });
  if (result.error || result.status !== 0) return codesetFromEnvironment(env);
  if (/Cannot set LC_(CTYPE|ALL)\b/.test(result.stderr)) return null;
  return result.stdout.trim() || null;
}

/** Without a `locale` command: LC_ALL, else LC_CTYPE, else LANG, read as glibc would name its codeset. */
function codesetFromEnvironment(env: NodeJS.ProcessEnv): string | null {
  const name = env.LC_ALL || env.LC_CTYPE || env.LANG || 'C';
  if (name === 'C' || name === 'POSIX') return 'ANSI_X3.4-1968';
  const codeset = /\.([^@]+)/.exec(name)?.[1];
  if (!codeset) return null;
  return /^utf-?8$/i.test(codeset) ? 'UTF-8' : codeset.toUpperCase();
}
