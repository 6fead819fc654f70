// The one place that knows how MySQL and MariaDB differ. Every other module asks for a named
// capability of the server (a ServerInfo, from detectServer) or of a flavour (flavourCapabilities)
// instead of testing the flavour or the version string itself, so adding a server (a newer
// MariaDB, Galera) means changing this file only: an entry in FLAVOURS, where a capability that
// changes with the version is a function of it (clientKeepsComments).
//
// Capabilities:
//   flavour, version, major, minor, versionComment  parseServerVersion() of VERSION() or of a server
//                                                    binary's --version line
//   clientCommand, clientCommands, clientPackage    the command-line client that ships with the server
//     (clientPackageOfTool())
//   clientReader, clientKeepsComments,              how that client reads .sql files (tools/sql/splitter.ts)
//     clientProbesDollarQuotes
//   clientDefaultCharacterSet()                     the character set its session starts in
//   dumpCommand, dumpOptions                        the matching dump tool and the options it needs
//   localInfile                                     whether LOAD DATA LOCAL INFILE may be streamed
//   isolationVariable                               the system variable holding the isolation level
//   statementCapture, explainFormat,                where the plan check reads a routine's statements,
//     explainSessionSettings                         which EXPLAIN FORMAT=JSON document it gets, and how
//   passwordPlugin, identifiedByPassword            the password plugin the toolkit's users get
//   routineReplace                                  how `migrate up` re-applies a routine
//   statisticsReload                                how to make InnoDB re-read a table's persistent statistics
//   privateServer                                   how the test harness initialises and starts a private server
//   replication, replicationSql()                   the statements that set up and drive replication
import { Connection, queryRows } from './connection';

/** Every server flavour the toolkit knows, in the order plan files and binary searches list them. */
export const SERVER_FLAVOURS = ['mariadb', 'mysql'] as const;
export type ServerFlavour = (typeof SERVER_FLAVOURS)[number];

/** What a version string says: VERSION()'s value ("10.11.19-MariaDB-0+deb12u1") or a server binary's --version line. */
export interface ServerVersion {
  flavour: ServerFlavour;
  /** Numeric version, e.g. "10.11.19" or "9.7.4". */
  version: string;
  /** The full version string the server reports. */
  versionComment: string;
  major: number;
  minor: number;
}

/** How the test harness initialises and starts a private server of this flavour (tools/harness/private-server.ts). */
export interface PrivateServerRecipe {
  /** The server binary's usual name, looked for when none is given (SERVER_FLAVOURS order). */
  binary: string;
  /** Tools that initialise an empty datadir, tried in order (beside the binary, on PATH); none: the server binary does it itself. */
  installers: readonly string[];
  /** Options of the initialisation, before the harness's --datadir and --tmpdir. */
  initialiseArgs: readonly string[];
  /** Server options needed to run from a private directory; `filesDir` is created for them when needsFilesDir. */
  serverArgs(filesDir: string): string[];
  needsFilesDir: boolean;
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

/** Everything that is the same for every version of a flavour. */
export interface FlavourCapabilities {
  /** The names this flavour's command-line client goes by, preferred first (older MariaDB packages have only `mysql`). */
  clientCommands: readonly string[];
  /** The package that brings the client and the dump tool: `label` for messages, `name` to install. */
  clientPackage: { label: string; name: string };
  /** Whose command-line client's file reader the client is (tools/sql/splitter.ts imitates MySQL's and MariaDB's). */
  clientReader: ServerFlavour;
  /** Dump tool matching this server. */
  dumpCommand: string;
  /** Options the dump tool needs on this server to give a dump restorable into the same server. */
  dumpOptions: readonly string[];
  /**
   * Whether the matching client sends `select $$` on connecting to learn whether the server lexes
   * $$ quotes (MySQL 9's does, and then reads $$...$$ as quoted text); MariaDB's never quotes with $.
   */
  clientProbesDollarQuotes: boolean;
  /**
   * The client's session character set when not given --default-character-set: for a UTF-8 locale,
   * and when the locale cannot be set or its codeset is unknown (clientDefaultCharacterSet).
   */
  clientCharacterSets: { utf8: string; fallback: string };
  /** The system variable holding the session's isolation level: MariaDB before 11.1 has only tx_isolation, MySQL 8+ only transaction_isolation. */
  isolationVariable: 'tx_isolation' | 'transaction_isolation';
  /**
   * Where the plan check (tools/plans/capture.ts) reads the statements a routine ran, with their
   * values: MariaDB writes stored-program statements to the slow log when asked
   * (log_slow_disabled_statements=''), variables as NAME_CONST and dynamic SQL expanded; MySQL's
   * slow log shows only the CALL, but its optimizer trace holds every sub-statement, dynamic SQL
   * expanded, and performance_schema names the routine of each.
   */
  statementCapture: 'slow-log' | 'optimizer-trace';
  /** Whose EXPLAIN FORMAT=JSON document the server writes (tools/plans/normalise.ts reads either). */
  explainFormat: ServerFlavour;
  /**
   * Session settings EXPLAIN needs, each allowed to fail: MySQL 8.3+ defaults to JSON format
   * version 2 on some builds and the normaliser reads version 1 (older servers lack the variable).
   */
  explainSessionSettings: readonly string[];
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
  privateServer: PrivateServerRecipe;
  replication: ReplicationSql;
}

/** A live server: its version, its flavour's capabilities, and those that depend on its version or settings. */
export interface ServerInfo extends ServerVersion, FlavourCapabilities {
  /** Command-line client that pipes .sql files into this server (clientCommands[0]). */
  clientCommand: string;
  /** Whether the server lets clients stream LOAD DATA LOCAL INFILE. */
  localInfile: boolean;
  /**
   * Whether the matching command-line client sends comments to the server: MySQL's does by
   * default since 8.3 (--comments), MariaDB's strips them. It decides what a routine body stored
   * from a file looks like, so the runner splits files the same way.
   */
  clientKeepsComments: boolean;
}

const SQL_TEXT = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;

const commonReplicationArgs = (serverId: number) => [`--server-id=${serverId}`, '--log-bin=binlog', '--binlog-format=ROW',
  // Routines are created on the primary and replicated; with a binary log the server otherwise
  // refuses functions not declared DETERMINISTIC or READS SQL DATA.
  '--log-bin-trust-function-creators=ON'];

interface FlavourEntry extends FlavourCapabilities {
  /** Recognises the flavour in a version string; the flavour without one is the default. */
  versionMarker: RegExp | null;
  clientKeepsComments(version: ServerVersion): boolean;
}

const FLAVOURS: Record<ServerFlavour, FlavourEntry> = {
  mariadb: {
    versionMarker: /mariadb/i,
    clientCommands: ['mariadb', 'mysql'],
    clientPackage: { label: 'the MariaDB client package', name: 'mariadb-client' },
    clientReader: 'mariadb',
    dumpCommand: 'mariadb-dump',
    dumpOptions: [],
    clientKeepsComments: () => false,
    clientProbesDollarQuotes: false,
    clientCharacterSets: { utf8: 'utf8mb3', fallback: 'latin1' },
    isolationVariable: 'tx_isolation',
    statementCapture: 'slow-log',
    explainFormat: 'mariadb',
    explainSessionSettings: [],
    passwordPlugin: 'mysql_native_password',
    identifiedByPassword: 'IDENTIFIED VIA mysql_native_password USING PASSWORD(?)',
    routineReplace: 'create-or-replace',
    statisticsReload: 'rename-round-trip',
    privateServer: {
      binary: 'mariadbd',
      installers: ['mariadb-install-db', 'mysql_install_db'],
      initialiseArgs: ['--no-defaults', '--auth-root-authentication-method=normal', '--skip-test-db'],
      serverArgs: () => [],
      needsFilesDir: false,
    },
    replication: {
      serverArgs: (role, serverId) => [...commonReplicationArgs(serverId), ...(role === 'replica' ? ['--read-only=ON', '--relay-log=relay-bin'] : [])],
      changeSource: (s) => `CHANGE MASTER TO MASTER_HOST=${SQL_TEXT(s.host)}, MASTER_PORT=${s.port}, MASTER_USER=${SQL_TEXT(s.user)}, ` +
        `MASTER_PASSWORD=${SQL_TEXT(s.password)}, MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1`,
      start: 'START SLAVE',
      stop: 'STOP SLAVE',
      stopApplier: 'STOP SLAVE SQL_THREAD',
      setDelay: (seconds) => `CHANGE MASTER TO MASTER_DELAY=${Math.trunc(seconds)}`,
      primaryPosition: 'SELECT @@global.gtid_binlog_pos AS position',
      waitForPosition: 'SELECT MASTER_GTID_WAIT(?, ?) AS waited',
    },
  },
  mysql: {
    versionMarker: null,
    clientCommands: ['mysql'],
    clientPackage: { label: 'the MySQL client package', name: 'mysql-client' },
    clientReader: 'mysql',
    dumpCommand: 'mysqldump',
    // MySQL 8+/9 turn GTIDs on by default: a dump that sets GTID_PURGED cannot be restored into
    // the server it came from (ERROR 3546), so the dump must leave GTIDs out.
    dumpOptions: ['--set-gtid-purged=OFF'],
    clientKeepsComments: ({ major, minor }) => major > 8 || (major === 8 && minor >= 3),
    clientProbesDollarQuotes: true,
    clientCharacterSets: { utf8: 'utf8mb4', fallback: 'utf8mb4' },
    isolationVariable: 'transaction_isolation',
    statementCapture: 'optimizer-trace',
    explainFormat: 'mysql',
    explainSessionSettings: ['SET SESSION explain_json_format_version = 1'],
    passwordPlugin: 'caching_sha2_password',
    identifiedByPassword: 'IDENTIFIED WITH caching_sha2_password BY ?',
    routineReplace: 'drop-create-grant',
    statisticsReload: 'flush-table',
    privateServer: {
      binary: 'mysqld',
      installers: [],
      initialiseArgs: ['--no-defaults', '--initialize-insecure'],
      serverArgs: (filesDir) => [
        // The X plugin would listen on 33060 and /tmp/mysqlx.sock, which two servers cannot share.
        '--mysqlx=OFF',
        // The compiled-in default (/var/lib/mysql-files) may not exist, and then the server refuses to start.
        `--secure-file-priv=${filesDir}`,
      ],
      needsFilesDir: true,
    },
    replication: {
      serverArgs: (role, serverId) => [...commonReplicationArgs(serverId), '--gtid-mode=ON', '--enforce-gtid-consistency=ON',
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
    },
  },
};

/** The capabilities every server of this flavour has. */
export function flavourCapabilities(flavour: ServerFlavour): FlavourCapabilities {
  const { versionMarker: _marker, clientKeepsComments: _comments, ...capabilities } = FLAVOURS[flavour];
  return capabilities;
}

/** The package a flavour's client or dump tool comes with (e.g. mariadb-dump: the MariaDB client package), if the command is one. */
export function clientPackageOfTool(command: string): FlavourCapabilities['clientPackage'] | undefined {
  const flavour = SERVER_FLAVOURS.find((f) => FLAVOURS[f].dumpCommand === command || FLAVOURS[f].clientCommands[0] === command);
  return flavour && FLAVOURS[flavour].clientPackage;
}

/**
 * The flavour and numeric version a version string names: the flavour whose marker it carries
 * (MariaDB's servers and binaries say "MariaDB"), else MySQL; the version is its first x.y.z.
 */
export function parseServerVersion(text: string): ServerVersion {
  const flavour = SERVER_FLAVOURS.find((f) => FLAVOURS[f].versionMarker?.test(text)) ?? 'mysql';
  const numeric = (text.match(/(\d+)\.(\d+)\.(\d+)/) ?? [text])[0];
  const [major, minor] = numeric.split('.').map(Number);
  return { flavour, version: numeric, versionComment: text, major, minor };
}

/** The server a VERSION() value and its local_infile setting describe. */
export function describeServer(version: string, localInfile: boolean): ServerInfo {
  const parsed = parseServerVersion(version);
  const capabilities = flavourCapabilities(parsed.flavour);
  return {
    ...parsed,
    ...capabilities,
    clientCommand: capabilities.clientCommands[0],
    localInfile,
    clientKeepsComments: FLAVOURS[parsed.flavour].clientKeepsComments(parsed),
  };
}

export async function detectServer(conn: Connection): Promise<ServerInfo> {
  const [row] = await queryRows<{ version: string; local_infile: number | string }>(
    conn,
    'SELECT VERSION() AS version, @@global.local_infile AS local_infile',
  );
  return describeServer(row.version, Number(row.local_infile) === 1);
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
export function clientDefaultCharacterSet(flavour: ServerFlavour, codeset: string | null): string {
  const { utf8, fallback } = FLAVOURS[flavour].clientCharacterSets;
  if (codeset === null) return fallback;
  const normalized = codeset.toUpperCase();
  if (normalized === 'UTF-8' || normalized === 'UTF8') return utf8;
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

/** The replication statements of this flavour (FlavourCapabilities.replication). */
export function replicationSql(flavour: ServerFlavour): ReplicationSql {
  return FLAVOURS[flavour].replication;
}
