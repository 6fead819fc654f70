// The one place that knows how MySQL and MariaDB differ. Every other module asks a ServerInfo
// for a capability or a tool name instead of testing the version string itself.
import { Connection, queryRows } from './connection';

export type Flavour = 'mysql' | 'mariadb';

export interface ServerInfo {
  flavour: Flavour;
  /** Numeric version, e.g. "10.11.19" or "9.7.4". */
  version: string;
  /** The full version string the server reports. */
  versionComment: string;
  major: number;
  minor: number;
  /** Command-line client that pipes .sql files into this server. */
  clientCommand: string;
  /** Dump tool matching this server. */
  dumpCommand: string;
  /** Options the dump tool needs on this server to give a dump restorable into the same server. */
  dumpOptions: string[];
  /** Whether the server lets clients stream LOAD DATA LOCAL INFILE. */
  localInfile: boolean;
  /**
   * Whether the matching command-line client sends comments to the server: MySQL's does by
   * default since 8.3 (--comments), MariaDB's strips them. It decides what a routine body stored
   * from a file looks like, so the runner splits files the same way.
   */
  clientKeepsComments: boolean;
  /**
   * Where the plan check (tools/plans/capture.ts) reads the statements a routine ran, with their
   * values: MariaDB writes stored-program statements to the slow log when asked
   * (log_slow_disabled_statements=''), variables as NAME_CONST and dynamic SQL expanded; MySQL's
   * slow log shows only the CALL, but its optimizer trace holds every sub-statement, dynamic SQL
   * expanded, and performance_schema names the routine of each.
   */
  statementCapture: 'slow-log' | 'optimizer-trace';
  /**
   * The password plugin the toolkit's database users get (tools/users), and the CREATE/ALTER USER
   * clause that sets a password with it (one ? placeholder: the password). MySQL 9 has no
   * mysql_native_password any more; MariaDB's caching_sha2_password does not exist.
   */
  passwordPlugin: string;
  identifiedByPassword: string;
}

export function describeServer(version: string, localInfile: boolean): ServerInfo {
  const flavour: Flavour = /mariadb/i.test(version) ? 'mariadb' : 'mysql';
  const numeric = (version.match(/^(\d+)\.(\d+)\.(\d+)/) ?? [version, '0', '0', '0'])[0];
  const [major, minor] = numeric.split('.').map(Number);
  return {
    flavour,
    version: numeric,
    versionComment: version,
    major,
    minor,
    clientCommand: flavour === 'mariadb' ? 'mariadb' : 'mysql',
    dumpCommand: flavour === 'mariadb' ? 'mariadb-dump' : 'mysqldump',
    // MySQL 8+/9 turn GTIDs on by default: a dump that sets GTID_PURGED cannot be restored into
    // the server it came from (ERROR 3546), so the dump must leave GTIDs out.
    dumpOptions: flavour === 'mysql' ? ['--set-gtid-purged=OFF'] : [],
    localInfile,
    clientKeepsComments: flavour === 'mysql' && (major > 8 || (major === 8 && minor >= 3)),
    statementCapture: flavour === 'mariadb' ? 'slow-log' : 'optimizer-trace',
    passwordPlugin: flavour === 'mariadb' ? 'mysql_native_password' : 'caching_sha2_password',
    identifiedByPassword: flavour === 'mariadb'
      ? 'IDENTIFIED VIA mysql_native_password USING PASSWORD(?)'
      : 'IDENTIFIED WITH caching_sha2_password BY ?',
  };
}

export async function detectServer(conn: Connection): Promise<ServerInfo> {
  const [row] = await queryRows<{ version: string; local_infile: number | string }>(
    conn,
    'SELECT VERSION() AS version, @@global.local_infile AS local_infile',
  );
  return describeServer(row.version, Number(row.local_infile) === 1);
}
