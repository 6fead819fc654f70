// Which database a command works on. db-migrate's config loader reads database.json (environments
// dev, test, qa, prod; `{"ENV": "VAR"}` values come from environment variables, so secrets never
// live in the repository); --url overrides the environment on every command.
import fs from 'fs';
import path from 'path';
import { UserError } from '../errors';
import { parseUrl } from '../sql/connection';
import { projectRoot } from '../migrate/sources';

// db-migrate ships no type declarations for its config module.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dbMigrateConfig = require('db-migrate/lib/config.js') as {
  loadFile(file: string, env?: string): { getCurrent(): { env: string; settings: Record<string, unknown> } };
};

export const CONFIG_FILE = 'database.json';

export interface Target {
  /** The environment's name, or "url" when --url was given. */
  env: string;
  url: string;
  /** Read replicas of this environment's primary (settings "replicas"), [] for --url. */
  replicas: string[];
  /** The raw environment settings (thresholds, ...), empty for --url. */
  settings: Record<string, unknown>;
}

export interface TargetOptions {
  env?: string;
  url?: string;
  configFile?: string;
}

function urlFromSettings(env: string, settings: Record<string, unknown>, file: string): string {
  const host = settings.host as string | undefined;
  if (!host) {
    throw new UserError(`environment "${env}" in ${file} has no URL: set the environment variable its "url" names (e.g. REMINDERLY_${env.toUpperCase()}_URL)`);
  }
  const user = encodeURIComponent(String(settings.user ?? 'root'));
  const password = settings.password ? ':' + encodeURIComponent(String(settings.password)) : '';
  const port = settings.port ? `:${settings.port}` : '';
  const database = settings.database ? '/' + encodeURIComponent(String(settings.database)) : '';
  return `mysql://${user}${password}@${host}${port}${database}`;
}

export function resolveTarget(options: TargetOptions): Target {
  if (options.url) {
    parseUrl(options.url);
    return { env: 'url', url: options.url, replicas: [], settings: {} };
  }
  const file = options.configFile ?? path.join(projectRoot(), CONFIG_FILE);
  if (!fs.existsSync(file)) throw new UserError(`no --url given and no ${file} to read environments from`);
  let loaded;
  try {
    loaded = dbMigrateConfig.loadFile(file, options.env);
  } catch (err) {
    throw new UserError(`${path.basename(file)}: ${(err as Error).message}`);
  }
  const { env, settings } = loaded.getCurrent();
  const url = urlFromSettings(env, settings, path.basename(file));
  parseUrl(url);
  return { env, url, replicas: replicaUrls(env, settings, path.basename(file)), settings };
}

/**
 * An environment's "replicas": a list of URLs, each a string or {"ENV": "VARIABLE"} (resolved by
 * db-migrate's loader; an unset variable leaves the entry empty, which is refused).
 */
function replicaUrls(env: string, settings: Record<string, unknown>, file: string): string[] {
  const list = settings.replicas;
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new UserError(`environment "${env}" in ${file}: "replicas" must be a list of URLs`);
  return list.map((entry, i) => {
    if (typeof entry !== 'string' || entry === '') {
      throw new UserError(`environment "${env}" in ${file}: replicas[${i}] is empty (a URL, or {"ENV": "VARIABLE"} whose variable is set)`);
    }
    parseUrl(entry);
    return entry;
  });
}

export interface ListedReplica {
  /** The environment whose "replicas" names it. */
  env: string;
  url: string;
}

/**
 * Every replica any environment of the config file lists, so that a command given --url (or an
 * environment whose URL is another's replica) can tell it is aimed at a replica. Entries that cannot
 * be read (an unset variable, a malformed URL) are skipped: the check is a safety net, the live
 * server check (tools/sql/primary.ts) still runs.
 */
export function listedReplicas(configFile = path.join(projectRoot(), CONFIG_FILE)): ListedReplica[] {
  if (!fs.existsSync(configFile)) return [];
  let loaded: Record<string, unknown>;
  try {
    loaded = dbMigrateConfig.loadFile(configFile) as unknown as Record<string, unknown>;
  } catch {
    return [];
  }
  const listed: ListedReplica[] = [];
  for (const [env, settings] of Object.entries(loaded)) {
    const list = (settings as { replicas?: unknown } | null)?.replicas;
    if (!Array.isArray(list)) continue;
    for (const entry of list) {
      if (typeof entry !== 'string' || entry === '') continue;
      try {
        parseUrl(entry);
      } catch {
        continue;
      }
      listed.push({ env, url: entry });
    }
  }
  return listed;
}
