// Which database a command works on. database.json holds environments in db-migrate's format (dev,
// test, qa, prod; `{"ENV": "VAR"}` values come from environment variables, so secrets never live
// in the repository); --url overrides the environment on every command. The file is read here, not
// by db-migrate's loader, because that loader lets DATABASE_URL stand in for any environment whose
// variable is unset (prod included): see tools/config/README.md for what DATABASE_URL overrides.
import fs from 'fs';
import path from 'path';
import { UserError } from '../errors';
import { parseUrl } from '../sql/connection';
import { projectRoot } from '../project';

/** The variable that overrides the URL of the local environments (those with a literal "url"). */
export const DATABASE_URL_VARIABLE = 'DATABASE_URL';

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

type RawConfig = Record<string, unknown>;

function readConfig(file: string): RawConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (err) {
    throw new UserError(`${path.basename(file)} is not valid JSON: ${(err as Error).message}`);
  }
  if (!config || typeof config !== 'object' || Array.isArray(config)) throw new UserError(`${path.basename(file)}: expected an object of environments`);
  return config as RawConfig;
}

const isEnvReference = (value: unknown): value is { ENV: string } =>
  !!value && typeof value === 'object' && typeof (value as { ENV?: unknown }).ENV === 'string';

/** Settings with every {"ENV": "VAR"} replaced by the variable's value ('' when unset). */
function resolveVariables(value: unknown, environment: NodeJS.ProcessEnv): unknown {
  if (isEnvReference(value)) return environment[value.ENV] ?? '';
  if (Array.isArray(value)) return value.map((v) => resolveVariables(v, environment));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveVariables(v, environment)]));
  }
  return value;
}

function environmentNames(config: RawConfig): string[] {
  return Object.keys(config).filter((k) => k !== 'defaultEnv' && k !== 'default' && config[k] && typeof config[k] === 'object' && !isEnvReference(config[k]));
}

/**
 * The URL of one environment, by these rules (tools/config/README.md):
 * - "url" is a literal: DATABASE_URL, when set, replaces it (the local environments, dev and test);
 * - "url" is {"ENV": "VAR"}: VAR's value, never DATABASE_URL; VAR unset is a config error naming it,
 *   so qa and prod are reached only through their own variables and only when named.
 */
function environmentUrl(env: string, settings: Record<string, unknown>, file: string, environment: NodeJS.ProcessEnv): string {
  const raw = settings.url;
  if (typeof raw === 'string' && raw !== '') return environment[DATABASE_URL_VARIABLE] || raw;
  if (isEnvReference(raw)) {
    const value = environment[raw.ENV];
    if (!value) throw new UserError(`environment "${env}" in ${file} takes its URL from ${raw.ENV}, which is not set`);
    return value;
  }
  if (raw !== undefined) throw new UserError(`environment "${env}" in ${file}: "url" must be a URL or {"ENV": "VARIABLE"}`);
  return urlFromSettings(env, resolveVariables(settings, environment) as Record<string, unknown>, file);
}

export function resolveTarget(options: TargetOptions, environment: NodeJS.ProcessEnv = process.env): Target {
  if (options.url) {
    parseUrl(options.url);
    return { env: 'url', url: options.url, replicas: [], settings: {} };
  }
  const file = options.configFile ?? path.join(projectRoot(), CONFIG_FILE);
  if (!fs.existsSync(file)) throw new UserError(`no --url given and no ${file} to read environments from`);
  const base = path.basename(file);
  const config = readConfig(file);
  const fallback = resolveVariables(config.defaultEnv ?? config.default, environment);
  const env = options.env ?? (typeof fallback === 'string' && fallback ? fallback : 'dev');
  const names = environmentNames(config);
  if (!names.includes(env)) throw new UserError(`no environment "${env}" in ${base} (it has ${names.join(', ')})`);
  const raw = config[env] as Record<string, unknown>;
  const url = environmentUrl(env, raw, base, environment);
  parseUrl(url);
  const settings = resolveVariables(raw, environment) as Record<string, unknown>;
  return { env, url, replicas: replicaUrls(env, settings, base), settings };
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
  let config: RawConfig;
  try {
    config = readConfig(configFile);
  } catch {
    return [];
  }
  const listed: ListedReplica[] = [];
  for (const env of environmentNames(config)) {
    const list = (resolveVariables(config[env], process.env) as { replicas?: unknown }).replicas;
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
