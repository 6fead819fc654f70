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
  /**
   * How `migrate up` re-applies a routine. MariaDB has CREATE OR REPLACE PROCEDURE/FUNCTION: the
   * routine is never absent and keeps its grants. MySQL has not: DROP, CREATE and the re-grant run
   * back to back on one connection (the DROP takes the routine's grants with it).
   */
  routineReplace: 'create-or-replace' | 'drop-create-grant';
  /**
   * How to make InnoDB read a table's persistent statistics (mysql.innodb_table_stats /
   * innodb_index_stats) again, as a restart does (tools/plans/statistics.ts). MySQL re-reads them
   * when the table is next opened after FLUSH TABLE; MariaDB 10.11 keeps the statistics it holds in
   * memory through FLUSH TABLE (and ALTER TABLE of a table option) and re-reads them after a
   * RENAME TABLE round trip.
   */
  statisticsReload: 'flush-table' | 'rename-round-trip';
}

/**
 * The character set the command-line client matching this server starts its session in when not
 * given --default-character-set: my_default_csname() maps the locale's codeset
 * (nl_langinfo(CODESET) after setlocale(LC_CTYPE, "")) to a character set, and falls back to the
 * client's compiled-in default when the locale cannot be set or its codeset is not in the table.
 * MariaDB 10.11's client maps UTF-8 to utf8mb3 and falls back to latin1; MySQL 9's maps UTF-8 to
 * utf8mb4 and falls back to utf8mb4. Either maps the C locale (ANSI_X3.4-1968) to latin1.
 * `codeset` is null when the locale cannot be set.
 */
export function clientDefaultCharacterSet(flavour: Flavour, codeset: string | null): string {
  const fallback = flavour === 'mariadb' ? 'latin1' : 'utf8mb4';
  if (codeset === null) return fallback;
  const normalized = codeset.toUpperCase();
  if (normalized === 'UTF-8' || normalized === 'UTF8') return flavour === 'mariadb' ? 'utf8mb3' : 'utf8mb4';
  return LOCALE_CODESETS[normalized] ?? fallback;
}

/** The rest of the clients' shared codeset table (mysys/charset.c, charsets[]), the codesets a Linux locale reports. */
const LOCALE_CODESETS: Record<string, string> = {
  'ANSI_X3.4-1968': 'latin1', 'ISO-8859-1': 'latin1', 'ISO-8859-15': 'latin1', 'CP1252': 'latin1',
  'ISO-8859-2': 'latin2', 'ISO-8859-7': 'greek', 'ISO-8859-8': 'hebrew', 'ISO-8859-9': 'latin5',
  'ISO-8859-13': 'latin7', 'KOI8-R': 'koi8r', 'KOI8-U': 'koi8u', 'CP1250': 'cp1250', 'CP1251': 'cp1251',
  'CP1256': 'cp1256', 'CP1257': 'cp1257', 'EUC-JP': 'ujis', 'EUC-KR': 'euckr', 'GB2312': 'gb2312',
  'GBK': 'gbk', 'GB18030': 'gb18030', 'BIG5': 'big5', 'SHIFT_JIS': 'sjis', 'TIS-620': 'tis620',
};

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
    routineReplace: flavour === 'mariadb' ? 'create-or-replace' : 'drop-create-grant',
    statisticsReload: flavour === 'mariadb' ? 'rename-round-trip' : 'flush-table',
  };
}

export async function detectServer(conn: Connection): Promise<ServerInfo> {
  const [row] = await queryRows<{ version: string; local_infile: number | string }>(
    conn,
    'SELECT VERSION() AS version, @@global.local_infile AS local_infile',
  );
  return describeServer(row.version, Number(row.local_infile) === 1);
}

/** Where a replica reads its primary's binary log from (the replication user's login). */
export interface ReplicationSource {
  host: string;
  port: number;
  user: string;
  password: string;
}

/**
 * The statements that set up and drive binary-log replication. MySQL renamed them (8.0.22/8.0.23:
 * CHANGE REPLICATION SOURCE TO, START REPLICA, SOURCE_DELAY, GTID sets); MariaDB keeps its own
 * (CHANGE MASTER TO, START SLAVE, MASTER_DELAY, domain-server-sequence GTIDs).
 */
export interface ReplicationSql {
  /** Server options of a primary or a replica with this server id (binary log, GTIDs, read_only). */
  serverArgs(role: 'primary' | 'replica', serverId: number): string[];
  /** Points a replica at its source, positioned by GTID. */
  changeSource(source: ReplicationSource): string;
  start: string;
  stop: string;
  /** Stops only the applier (SQL) thread: events still arrive, none is applied. */
  stopApplier: string;
  /** Delays applying every event by this many seconds (replication must be stopped to change it). */
  setDelay(seconds: number): string;
  /** On the primary: the GTID position of everything it has written, in column `position`. */
  primaryPosition: string;
  /** On a replica: waits until `?` (a primaryPosition) is applied, at most `?` seconds; column `waited` is 0 when it was. */
  waitForPosition: string;
}

const SQL_TEXT = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;

export function replicationSql(flavour: Flavour): ReplicationSql {
  const common = (serverId: number) => [`--server-id=${serverId}`, '--log-bin=binlog', '--binlog-format=ROW',
    // Routines are created on the primary and replicated; with a binary log the server otherwise
    // refuses functions not declared DETERMINISTIC or READS SQL DATA.
    '--log-bin-trust-function-creators=ON'];
  if (flavour === 'mariadb') {
    return {
      serverArgs: (role, serverId) => [...common(serverId), ...(role === 'replica' ? ['--read-only=ON', '--relay-log=relay-bin'] : [])],
      changeSource: (s) => `CHANGE MASTER TO MASTER_HOST=${SQL_TEXT(s.host)}, MASTER_PORT=${s.port}, MASTER_USER=${SQL_TEXT(s.user)}, ` +
        `MASTER_PASSWORD=${SQL_TEXT(s.password)}, MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1`,
      start: 'START SLAVE',
      stop: 'STOP SLAVE',
      stopApplier: 'STOP SLAVE SQL_THREAD',
      setDelay: (seconds) => `CHANGE MASTER TO MASTER_DELAY=${Math.trunc(seconds)}`,
      primaryPosition: 'SELECT @@global.gtid_binlog_pos AS position',
      waitForPosition: 'SELECT MASTER_GTID_WAIT(?, ?) AS waited',
    };
  }
  return {
    serverArgs: (role, serverId) => [...common(serverId), '--gtid-mode=ON', '--enforce-gtid-consistency=ON',
      ...(role === 'replica' ? ['--read-only=ON', '--relay-log=relay-bin', '--skip-replica-start'] : [])],
    changeSource: (s) => `CHANGE REPLICATION SOURCE TO SOURCE_HOST=${SQL_TEXT(s.host)}, SOURCE_PORT=${s.port}, SOURCE_USER=${SQL_TEXT(s.user)}, ` +
      `SOURCE_PASSWORD=${SQL_TEXT(s.password)}, SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1, SOURCE_CONNECT_RETRY=1`,
    start: 'START REPLICA',
    stop: 'STOP REPLICA',
    stopApplier: 'STOP REPLICA SQL_THREAD',
    setDelay: (seconds) => `CHANGE REPLICATION SOURCE TO SOURCE_DELAY=${Math.trunc(seconds)}`,
    primaryPosition: 'SELECT @@global.gtid_executed AS position',
    // WAIT_FOR_EXECUTED_GTID_SET returns 0 when applied, 1 on timeout.
    waitForPosition: 'SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?) AS waited',
  };
}
