// Splits a .sql file into the statements the command-line client would send, one by one.
//
// This follows the client's own reader (add_line() and read_and_execute() in client/mysql.cc of
// MariaDB 10.11 and MySQL 9.x) rule for rule, quirks included, because "the file works with the
// mysql client" is the contract every .sql file in this project is written against: the same
// statement texts mean the same routine bodies, the same views and the same rows.
import { UserError } from '../errors';
import { ServerFlavour, ServerInfo } from './flavour';

export interface SqlStatement {
  /** What is sent to the server. */
  text: string;
  /** 0-based position among the file's statements. */
  index: number;
  /** 1-based line and column of the statement's first significant character (comments and blanks skipped). */
  line: number;
  column: number;
  /** First line of the statement from that character on, for messages. */
  firstLine: string;
  /** The delimiter in force when the statement ended. */
  delimiter: string;
  /** The file the statement is in when it is not the file split (one named by SOURCE). */
  file?: string;
  /** The statement's exact bytes, when the file was split as bytes (splitSqlBytes): what is sent. */
  bytes?: Buffer;
}

/** Which client to imitate. The default is MySQL's mysql client with comments stripped, as MySQL 8.0's did. */
export interface SplitOptions {
  /**
   * Whose client's reader (ServerInfo.clientReader). 'mariadb': /*M! comments are executable, /*+ is a plain comment, and "--" opens a comment at a
   * statement's start even without a following blank. 'mysql': /*+ optimizer hints are kept whole.
   */
  client?: ServerFlavour;
  /** Send comments on, as recent MySQL clients do by default (ServerInfo.clientKeepsComments); MariaDB's strips them. */
  keepComments?: boolean;
  /** $$...$$ and $tag$...$tag$ quote text, as the MySQL 9 client decides when the server parses them. */
  dollarQuotes?: boolean;
}

/** A file the client would misread or refuse; nothing of it has been run. */
export class SqlSplitError extends UserError {
  constructor(readonly reason: string, readonly line: number, readonly column: number, readonly file?: string) {
    super(`${file ? `${file}:` : ''}${line}:${column}: ${reason}`);
  }

  /** The error naming this file, unless it already names one (a file that SOURCE read). */
  withFile(file: string): SqlSplitError {
    return this.file ? this : new SqlSplitError(this.reason, this.line, this.column, file);
  }
}

/**
 * The client whose behaviour a runner should copy for this server: the one that ships with it.
 * `serverParsesDollarQuotes` is the answer to the probe a client that sends one
 * (ServerInfo.clientProbesDollarQuotes) sends on connecting: `select $$` failing with
 * ER_PARSE_ERROR, see runner.detectClientDialect().
 */
export function clientDialectFor(server: ServerInfo, serverParsesDollarQuotes: boolean): Required<SplitOptions> {
  return {
    client: server.clientReader,
    keepComments: server.clientKeepsComments,
    dollarQuotes: server.clientProbesDollarQuotes && serverParsesDollarQuotes,
  };
}

export function splitSql(source: string, options: SplitOptions = {}): SqlStatement[] {
  const reader = new ClientReader(rulesOf(options), { binary: false });
  reader.readFile(source.replace(/^\uFEFF/, ''), undefined);
  return reader.finish();
}

/** A file named by SOURCE, as the runner found it. */
export interface SourcedFile {
  /** The path as messages show it. */
  file: string;
  /** The same file whatever path names it (e.g. its real path): detects a file that SOURCEs itself. */
  key: string;
  bytes: Buffer;
}

export interface ByteSplitOptions extends SplitOptions {
  /** The file as messages name it, and its SourcedFile.key. */
  file?: string;
  key?: string;
  /**
   * Reads the file a SOURCE command names (MariaDB's client runs it; MySQL 9's, in batch mode,
   * does not); throws an Error whose message says why not. Without it, SOURCE is refused.
   */
  openSource?(name: string): SourcedFile;
  /** Bytes decoded into one string at a time (see ClientReader.readBytes); smaller in tests only. */
  pieceBytes?: number;
}

/**
 * Splits a file's bytes exactly as the client reads them: the client works on bytes, not on text,
 * so a file need not be UTF-8 (latin1 data, BLOBs dumped without --hex-blob) and every statement
 * keeps its exact bytes (SqlStatement.bytes) to be sent as they are. Only ASCII bytes mean
 * anything to the reader; every other byte is taken as-is, as the client does in its utf8mb4 and
 * single-byte character sets.
 */
export function splitSqlBytes(bytes: Buffer, options: ByteSplitOptions = {}): SqlStatement[] {
  const reader = new ClientReader(rulesOf(options), { binary: true, openSource: options.openSource, pieceBytes: options.pieceBytes ?? BYTES_PER_PIECE });
  reader.sourcing.push(options.key ?? options.file ?? '');
  reader.readBytes(withoutBom(bytes), options.file);
  return reader.finish();
}

const withoutBom = (bytes: Buffer): Buffer =>
  bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;

interface Rules {
  keepComments: boolean;
  dollarQuotes: boolean;
  mariadb: boolean;
}

function rulesOf(options: SplitOptions): Rules {
  return {
    keepComments: options.keepComments ?? false,
    dollarQuotes: options.dollarQuotes ?? false,
    mariadb: options.client === 'mariadb',
  };
}

interface Position {
  line: number;
  column: number;
}

interface Mark {
  line: number;
  lineText: string;
  index: number;
}

interface InputOptions {
  /** Lines are bytes as latin1 characters: statements get their bytes, columns count UTF-8 characters. */
  binary: boolean;
  openSource?: ByteSplitOptions['openSource'];
  pieceBytes?: number;
}

/**
 * A statement split as bytes: `text` (the bytes as latin1 characters while splitting) becomes the
 * bytes decoded as UTF-8 for messages and callers that read it, decoded only when asked for, since
 * a dump's statements are mostly never read.
 */
function withBytes(statement: SqlStatement, binaryText: string): void {
  const bytes = Buffer.from(binaryText, 'latin1');
  let decoded: string | undefined;
  Object.defineProperty(statement, 'text', { enumerable: true, configurable: true, get: () => (decoded ??= bytes.toString('utf8')) });
  statement.bytes = bytes;
}

/** Client commands (see find_command()), each with whether it takes an argument. */
const CLIENT_COMMANDS = new Map<string, boolean>([
  ...['?', 'charset', 'connect', 'delimiter', 'help', 'pager', 'prompt', 'query_attributes', 'source',
    'ssl_session_data_print', 'system', 'tee', 'use'].map((name) => [name, true] as const),
  ...['clear', 'edit', 'ego', 'exit', 'go', 'nopager', 'notee', 'nowarning', 'print', 'quit', 'rehash',
    'resetconnection', 'status', 'warnings'].map((name) => [name, false] as const),
]);

/** Commands that are also SQL the server runs the same way: sent as statements. */
const SQL_COMMANDS = new Set(['use', 'help']);

/** ordinaryRun() inside a quote: anything but the quote and a backslash (a dollar quote's end is found at '$'). */
const IN_STRING_RUNS: Record<string, RegExp> = {
  "'": /[^'\\]+/y, '"': /[^"\\]+/y, '`': /[^`\\]+/y, $: /[^$\\]+/y,
};

/** How much of a file is decoded into one string at a time (cut after a line end). */
const BYTES_PER_PIECE = 64 * 1024 * 1024;

/** The client keeps delimiters in a 16-byte buffer. */
const MAX_DELIMITER_BYTES = 15;

// The client's character classes (utf8mb4 ctype): only ASCII matters, every multi-byte character is taken as-is.
const isSpace = (ch: string | undefined): boolean => ch === ' ' || ch === '\t' || ch === '\n' || ch === '\v' || ch === '\f' || ch === '\r';
const isMultiByte = (ch: string): boolean => ch.charCodeAt(0) >= 0x80;
const isIdentifierChar = (ch: string | undefined): boolean => ch !== undefined && (/[A-Za-z0-9_$]/.test(ch) || isMultiByte(ch));
/** What remove_cntrl() trims from a statement's end: blanks and control characters. */
function trimEnd(text: string): string {
  let end = text.length;
  while (end > 0 && (text.charCodeAt(end - 1) <= 0x20 || text.charCodeAt(end - 1) === 0x7f)) end--;
  return text.slice(0, end);
}

/** is_delimiter_command(): the client only compares the first nine characters. */
function startsWithDelimiterWord(text: string): boolean {
  return text.length >= 9 && (text.charCodeAt(0) | 0x20) === 0x64 && text.slice(0, 9).toLowerCase() === 'delimiter';
}

/**
 * skip_over_comments_and_space() of the MySQL 9 client, which lets a DELIMITER line follow a header
 * comment when comments are kept. Its scan of a comment stops at the first '*' or at the character
 * before the first '/', not at the comment's end: a header such as "/** docs" or "/* a/b" is
 * therefore not skipped, and the client glues the DELIMITER line to it. Kept as is, since that is
 * what the client sends.
 */
function mysqlSkipCommentsAndSpace(text: string): number {
  const end = text.length;
  let p = 0;
  do {
    while (p < end && isSpace(text[p])) p++;
    if (p + 2 < end && text[p] === '/' && text[p + 1] === '*') {
      p += 2;
      while (p + 2 < end && text[p] !== '*' && text[p + 1] !== '/') p++;
      if (p + 2 < end && text[p] === '*' && text[p + 1] === '/') p += 2;
    }
  } while (p < end && (isSpace(text[p]) || (p + 2 < end && text[p] === '/' && text[p + 1] === '*')));
  return p;
}

/**
 * find_command(name): the client command a line or statement is, if any. MariaDB's client knows
 * them all by their exact first word. MySQL's (9.x, in batch mode, where --commands is off) knows
 * only DELIMITER, and takes any first word that merely begins with "delimiter" for it.
 */
function clientCommand(text: string, delimiter: string, mariadb: boolean): string | null {
  // The first word decides first: a statement that is no command is not scanned (a dump's INSERTs are long).
  const start = Math.max(0, text.search(/[^ \t\n\v\f\r]/));
  const head = firstWord(text.slice(start, start + 64)).word;
  if (mariadb ? !CLIENT_COMMANDS.has(head.toLowerCase()) : !startsWithDelimiterWord(head)) return null;
  const name = text.replace(/^[ \t\n\v\f\r]+/, '');
  if (name.includes('\\g') || (name.includes(delimiter) && !startsWithDelimiterWord(name))) return null;
  const { word, hasArgument } = firstWord(name);
  if (!mariadb) return startsWithDelimiterWord(word) ? 'delimiter' : null;
  const takesArgument = CLIENT_COMMANDS.get(word.toLowerCase());
  return takesArgument !== undefined && (!hasArgument || takesArgument) ? word.toLowerCase() : null;
}

/**
 * A statement that reads as a client command other than DELIMITER: refused, since running it
 * would need the client (MySQL's sends it to a server that rejects it). USE db and HELP 'topic'
 * are SQL the server runs the same way; without an argument they are client-only too.
 */
function unsupportedCommand(text: string): string | null {
  const { word, hasArgument } = firstWord(text.replace(/^[ \t\n\v\f\r]+/, ''));
  const name = word.toLowerCase();
  const takesArgument = CLIENT_COMMANDS.get(name);
  if (takesArgument === undefined || (hasArgument && (!takesArgument || SQL_COMMANDS.has(name)))) return null;
  return name;
}

/** The client splits a command from its argument at the first blank or tab only. */
function firstWord(name: string): { word: string; hasArgument: boolean } {
  const blank = /[ \t]/.exec(name);
  return {
    word: blank ? name.slice(0, blank.index) : name,
    hasArgument: blank !== null && /[^ \t\n\v\f\r]/.test(name.slice(blank.index)),
  };
}

/** get_arg(): the DELIMITER argument, and whatever follows it on the command's text. */
function delimiterArgument(text: string): { value: string; rest: string } | null {
  let p = 0;
  while (isSpace(text[p])) p++;
  while (p < text.length && !isSpace(text[p])) p++;
  if (p >= text.length) return null;
  while (isSpace(text[p])) p++;
  let quote = '';
  if (text[p] === "'" || text[p] === '"' || text[p] === '`') quote = text[p++];
  let value = '';
  for (; p < text.length; p++) {
    const ch = text[p];
    if ((ch === '\\' && p + 1 < text.length) || (quote && ch === quote && text[p + 1] === quote)) {
      value += text[++p];
    } else if (ch === (quote || ' ')) {
      p++;
      break;
    } else {
      value += ch;
    }
  }
  return { value, rest: text.slice(p) };
}

/** check_for_dollar_quote(): "$tag$" opens a quote where an identifier could not go on. */
function dollarQuoteAt(line: string, pos: number): string | null {
  if (pos > 0 && isIdentifierChar(line[pos - 1])) return null;
  let p = pos + 1;
  while (p < line.length && line[p] !== '$' && isIdentifierChar(line[p])) p++;
  return line[p] === '$' ? line.slice(pos, p + 1) : null;
}

/**
 * The client's reader: fed line by line, it accumulates the statement being read (`buffer`) and
 * hands complete ones to emit(). Field and branch names follow add_line() so the two can be
 * compared side by side.
 */
class ClientReader {
  private delimiter = ';';
  private buffer = '';
  /** The open quote: ' " ` or $ inside a dollar quote. */
  private inString = '';
  private dollarTag = '';
  private mlComment = false;
  /** Where the open string or comment began, for the end-of-file error. */
  private openedAt: Mark | null = null;
  /** Where an executable comment or hint that is still open began (the client forgets at line end; we keep it for the error). */
  private execOpenedAt: Mark | null = null;
  /** The statement being read: where its first significant character is, in the file and in `buffer`. */
  private current: { at: Position; textIndex: number } | null = null;
  private readonly statements: SqlStatement[] = [];
  private lineNumber = 0;
  private lineText = '';
  /** Columns count characters, not UTF-16 units; counted forward from the last one asked for, so long lines stay linear. */
  private counted = { index: 0, column: 1 };

  /** The file being read when it is not the one split (a SOURCE'd one); and the SOURCE nesting, outermost first. */
  private file: string | undefined;
  /** The keys of the files being read, outermost first (the file split, then each SOURCE'd one). */
  readonly sourcing: string[] = [];
  /** MariaDB's `\-` (the first line of its dumps): from then on the client refuses SOURCE. */
  private sandbox = false;

  constructor(private readonly rules: Rules, private readonly input: InputOptions) {}

  /**
   * Reads a file's bytes as latin1 characters, in pieces cut after a line end: a JavaScript
   * string holds at most 512 MiB, and dumps can be bigger.
   */
  readBytes(bytes: Buffer, file: string | undefined): void {
    let lineNumber = 0;
    for (let start = 0; start < bytes.length;) {
      const newline = bytes.indexOf(0x0a, Math.min(start + (this.input.pieceBytes ?? BYTES_PER_PIECE), bytes.length) - 1);
      const end = newline < 0 ? bytes.length : newline + 1;
      lineNumber = this.readFile(bytes.toString('latin1', start, end), file, lineNumber);
      start = end;
    }
    this.file = file;
  }

  /** Reads a whole file (text, or bytes as latin1 characters): lines end in "\n", one "\r" before it is dropped, as the client does. Returns the last line number. */
  readFile(source: string, file: string | undefined, linesBefore = 0): number {
    this.file = file;
    let start = 0;
    let lineNumber = linesBefore;
    while (start < source.length) {
      let end = source.indexOf('\n', start);
      if (end < 0) end = source.length;
      const stop = end > start && source.charCodeAt(end - 1) === 13 ? end - 1 : end;
      this.readLine(source.slice(start, stop), ++lineNumber);
      start = end + 1;
    }
    return lineNumber;
  }

  readLine(line: string, lineNumber: number): void {
    this.lineNumber = lineNumber;
    this.lineText = line;
    this.counted = { index: 0, column: 1 };
    const nul = line.indexOf('\0');
    if (nul >= 0) throw this.errorAt(this.positionAt(nul), 'NUL character (the client refuses it outside --binary-mode)');
    if (!this.mlComment && !this.inString && this.lineMayBeCommand()) {
      const at = this.skipLeadingComments(line);
      const command = clientCommand(line.slice(at), this.delimiter, this.rules.mariadb);
      if (command) {
        // Only comments were waiting (MySQL, comments kept): the client drops them unsent.
        this.buffer = '';
        this.current = null;
        this.lineCommand(command, line, at);
        return;
      }
    }
    this.addLine(line);
  }

  finish(): SqlStatement[] {
    this.endOfFile();
    return this.statements;
  }

  /** The end of a file (the one split or a SOURCE'd one): an open quote or comment is refused, a last statement without delimiter is sent. */
  private endOfFile(): void {
    if (this.inString) {
      const what = this.inString === '$' ? `dollar-quoted string ${this.dollarTag}` : `${this.inString} quoted ${this.inString === '`' ? 'identifier' : 'string'}`;
      throw this.errorAt(this.resolve(this.openedAt!), `unterminated ${what} at end of file`);
    }
    if (this.mlComment) throw this.errorAt(this.resolve(this.openedAt!), 'unterminated /* comment at end of file');
    if (this.execOpenedAt) throw this.errorAt(this.resolve(this.execOpenedAt), 'unterminated executable comment at end of file');
    // The client sends a last statement that has no delimiter (MariaDB's without looking for a command in it).
    if (trimEnd(this.buffer)) {
      if (this.rules.mariadb) this.emit();
      else this.endStatement();
    }
    this.reset();
  }

  /** MariaDB and MySQL check for a client command at a line's start when no statement is pending. */
  private lineMayBeCommand(): boolean {
    if (!this.buffer) return true;
    // A started statement has text the comment skipping cannot pass: no need to scan (and flatten) a long buffer.
    return this.usesMysqlCommentSkipping() && !this.current && mysqlSkipCommentsAndSpace(this.buffer) >= this.buffer.length;
  }

  private runs: { delimiter: string; outside: RegExp } | null = null;

  /**
   * A sticky pattern for characters the reader copies one by one without any rule applying: in a
   * quoted string anything but its quote and a backslash; outside one anything but quotes,
   * backslashes, comment starts and ends, a possible dollar quote and the delimiter's first character.
   */
  private ordinaryRun(): RegExp {
    if (this.inString) return IN_STRING_RUNS[this.inString === '$' ? '$' : this.inString];
    if (this.runs?.delimiter !== this.delimiter) {
      const special = `'"\`\\\\#\\-/*${this.rules.dollarQuotes ? '$' : ''}${this.delimiter[0]}`;
      // Whole '...' and "..." strings on the line are taken too (a backslash escapes the next
      // character, as the rules below copy it); one left open at the line's end is not.
      const quoted = (q: string) => `${q}[^${q}\\\\]*(?:\\\\[^][^${q}\\\\]*)*${q}`;
      // A lone '-', '/' or '*' opens nothing ("--", "/*" and "*/" do): taken too, or a dump's
      // negative numbers and dates cut its INSERTs into thousands of pieces (unless the delimiter
      // starts with one).
      const lone = [['-', '-(?!-)'], ['/', '/(?!\\*)'], ['*', '\\*(?!/)']]
        .filter(([ch]) => ch !== this.delimiter[0]).map(([, pattern]) => `|${pattern}`).join('');
      this.runs = {
        delimiter: this.delimiter,
        outside: new RegExp(`(?:[^${special.replace(/[\]^]/g, '\\$&')}]+${lone}|${quoted("'")}|${quoted('"')})+`, 'y'),
      };
    }
    return this.runs.outside;
  }

  private usesMysqlCommentSkipping(): boolean {
    return !this.rules.mariadb && this.rules.keepComments;
  }

  private skipLeadingComments(text: string): number {
    return this.usesMysqlCommentSkipping() ? mysqlSkipCommentsAndSpace(text) : 0;
  }

  private lineCommand(command: string, line: string, from: number): void {
    const text = line.slice(from);
    const at = this.positionAt(from + text.length - text.replace(/^[ \t\n\v\f\r]+/, '').length);
    if (command === 'delimiter') {
      this.setDelimiter(text, at);
    } else if (command === 'source' && this.canSource()) {
      this.source(text, at);
    } else if (unsupportedCommand(text)) {
      throw this.unsupportedCommand(command, at);
    } else {
      // MariaDB runs "use db" at a line's start even without a delimiter.
      this.current = { at, textIndex: 0 };
      this.buffer = text.trim();
      this.emit();
    }
  }

  private setDelimiter(text: string, at: Position): { value: string; rest: string } {
    const argument = delimiterArgument(text);
    if (!argument || !argument.value) throw this.errorAt(at, 'DELIMITER must be followed by a delimiter string');
    if (argument.value.includes('\\')) throw this.errorAt(at, 'a DELIMITER cannot contain a backslash');
    if (Buffer.byteLength(argument.value) > MAX_DELIMITER_BYTES) {
      throw this.errorAt(at, `DELIMITER "${argument.value}" is longer than the client's ${MAX_DELIMITER_BYTES} bytes`);
    }
    this.delimiter = argument.value;
    return argument;
  }

  private unsupportedCommand(command: string, at: Position): SqlSplitError {
    return this.errorAt(at, `the client command "${command}" is not supported: only DELIMITER is (and USE db, which is SQL)`);
  }

  /** com_go(), or the client command the statement turns out to be. */
  private endStatement(): void {
    const text = this.buffer.slice(this.skipLeadingComments(this.buffer));
    const command = clientCommand(text, this.delimiter, this.rules.mariadb);
    const start = this.current?.at ?? { line: this.lineNumber, column: 1 };
    if (command === 'delimiter') {
      // DELIMITER after other text on its line is only read at the next delimiter, with the lines
      // in between glued to it: the client then takes "$$CREATE" or so as the new delimiter and
      // silently skips what follows. Refused rather than imitated.
      const { value, rest } = this.setDelimiter(text, start);
      if (value.includes('\n') || /[^ \t\n\v\f\r]/.test(rest)) {
        throw this.errorAt(start, 'DELIMITER must start its own line: here the client would glue the following lines to it');
      }
      this.reset();
      return;
    }
    if (command === 'source' && this.canSource()) {
      this.source(text, start);
      return;
    }
    const unsupported = unsupportedCommand(text);
    if (unsupported) throw this.unsupportedCommand(unsupported, start);
    this.emit();
  }

  /** MariaDB's client runs SOURCE and \. (MySQL 9's does not in batch mode, where --commands is off). */
  private canSource(): boolean {
    return this.rules.mariadb && this.input.openSource !== undefined;
  }

  /**
   * com_source(): the file named by the rest of the command (after its first blank, trimmed) is
   * opened as given, so a relative path is relative to the current directory, not to the file
   * that names it; what was pending is dropped; the named file is read with fresh quote and
   * comment state and line numbers, while the delimiter carries over both ways.
   */
  private source(command: string, at: Position): void {
    if (this.sandbox) throw this.errorAt(at, 'SOURCE is not allowed after the sandbox-mode line (\\-): the client refuses it too');
    const blank = command.indexOf(' ');
    const name = blank < 0 ? '' : trimEnd(command.slice(blank + 1)).replace(/^[ \t\n\v\f\r]+/, '');
    if (!name) throw this.errorAt(at, 'SOURCE must be followed by a file name');
    const shown = this.input.binary ? Buffer.from(name, 'latin1').toString('utf8') : name;
    let sourced: SourcedFile;
    try {
      sourced = this.input.openSource!(shown);
    } catch (err) {
      throw this.errorAt(at, `cannot SOURCE ${shown}: ${(err as Error).message}`);
    }
    if (this.sourcing.includes(sourced.key)) throw this.errorAt(at, `SOURCE ${shown} would read ${sourced.file} inside itself`);
    const saved = {
      file: this.file, lineNumber: this.lineNumber, lineText: this.lineText, counted: this.counted,
      inString: this.inString, dollarTag: this.dollarTag, mlComment: this.mlComment, openedAt: this.openedAt,
    };
    this.reset();
    this.inString = '';
    this.mlComment = false;
    this.sourcing.push(sourced.key);
    this.readBytes(withoutBom(sourced.bytes), sourced.file);
    this.endOfFile();
    this.sourcing.pop();
    Object.assign(this, saved);
    this.reset();
  }

  private emit(): void {
    const text = trimEnd(this.buffer);
    // Nothing but comments and blanks: the client sends nothing, or (comments kept) a no-op.
    if (this.current && text) {
      const lineEnd = text.indexOf('\n', this.current.textIndex);
      let firstLine = text.slice(this.current.textIndex, lineEnd < 0 ? undefined : lineEnd).trim();
      if (this.input.binary) firstLine = Buffer.from(firstLine.slice(0, 400), 'latin1').toString('utf8');
      const statement: SqlStatement = {
        text,
        index: this.statements.length,
        line: this.current.at.line,
        column: this.current.at.column,
        firstLine: firstLine.length > 100 ? `${firstLine.slice(0, 100)}…` : firstLine,
        delimiter: this.delimiter,
        ...(this.sourcing.length > 1 ? { file: this.file } : {}),
      };
      if (this.input.binary) withBytes(statement, text);
      this.statements.push(statement);
    }
    this.reset();
  }

  private reset(): void {
    this.buffer = '';
    this.current = null;
    this.execOpenedAt = null;
  }

  /** add_line(): one line of input, without its line end. */
  private addLine(line: string): void {
    if (!line && !this.buffer) return;
    const { keepComments, mariadb } = this.rules;
    const end = line.length;
    let out = '';
    let needSpace = false;
    // Like the client, executable-comment and hint state lasts one line only.
    let ssComment: '' | 'exec' | 'hint' = '';

    const put = (text: string, pos: number, significant: boolean): void => {
      if (!text) return;
      if (significant && !this.current) {
        this.current = { at: this.positionAt(pos), textIndex: this.buffer.length + out.length };
      }
      out += text;
    };
    const flush = (): void => {
      this.buffer += out;
      out = '';
    };

    for (let pos = 0; pos < end; pos++) {
      // The fast path for the bulk of a dump (long multi-row INSERTs): a run of characters that
      // the rules below would each just copy is copied at once. Only once the statement has
      // started, outside comments and hints, and with no blank owed after a comment.
      if (this.current && !this.mlComment && ssComment !== 'hint' && !needSpace) {
        const run = this.ordinaryRun();
        run.lastIndex = pos;
        if (run.test(line)) {
          out += line.slice(pos, run.lastIndex);
          pos = run.lastIndex;
          if (pos >= end) break;
        }
      }
      const ch = line[pos];
      if (!keepComments && isSpace(ch) && !out && !this.buffer) continue;

      if (isMultiByte(ch)) {
        if (!this.mlComment || keepComments) put(ch, pos, !this.mlComment);
        continue;
      }

      if (!this.mlComment && ch === '\\' && !(mariadb && this.inString === '`')) {
        const next = line[++pos];
        if (next === undefined) break; // a backslash ending a line is dropped
        if (this.inString || next === 'N') {
          put('\\', pos - 1, true);
          if (!mariadb && next === '`' && this.inString === '`') pos--;
          else out += next;
          continue;
        }
        if (mariadb && next === '-') {
          // com_sandbox(), which mariadb-dump writes as "/*M!999999\- enable the sandbox mode */".
          this.sandbox = true;
          continue;
        }
        if (next === '.' && this.canSource()) {
          // The pending text is dropped and the rest of the line names the file; the client then
          // skips to the delimiter (or, in an executable comment, to its end).
          flush();
          this.source(line.slice(pos - 1), this.positionAt(pos - 1));
          if (ssComment) {
            const close = line.indexOf('*/', pos + 1);
            pos = close < 0 ? end : close - 1;
          } else {
            const delimiterAt = line.indexOf(this.delimiter, pos + 1);
            pos = delimiterAt < 0 ? end : delimiterAt + this.delimiter.length - 1;
          }
          continue;
        }
        throw this.unsupportedCommand(`\\${next}`, this.positionAt(pos - 1));
      }

      if (!this.mlComment && !this.inString && ssComment !== 'hint' && line.startsWith(this.delimiter, pos)) {
        pos += this.delimiter.length;
        if (keepComments) while (isSpace(line[pos])) out += line[pos++];
        flush();
        if (keepComments && (line[pos] === '#' || (line[pos] === '-' && line[pos + 1] === '-' && isSpace(line[pos + 2])))) {
          this.buffer += line.slice(pos);
          pos = end;
        }
        pos--;
        this.endStatement();
        continue;
      }

      const dashDash = ch === '-' && line[pos + 1] === '-'
        && (isSpace(line[pos + 2]) || pos + 2 >= end || (mariadb && !this.buffer && !out));
      if (!this.mlComment && ssComment !== 'hint' && !this.inString && (ch === '#' || dashDash)) {
        flush();
        if (keepComments) {
          const startedWithNothing = !this.buffer;
          this.buffer += line.slice(pos);
          if (startedWithNothing) this.emit();
        }
        break;
      }

      const opensExecutable = line[pos + 2] === '!' || (mariadb ? line[pos + 2] === 'M' && line[pos + 3] === '!' : line[pos + 2] === '+');
      if (!this.inString && ch === '/' && line[pos + 1] === '*' && !opensExecutable && ssComment !== 'hint') {
        if (!this.mlComment) this.openedAt = this.mark(pos);
        if (keepComments) out += '/*';
        pos++;
        this.mlComment = true;
        flush();
        continue;
      }

      if (this.mlComment && !ssComment && ch === '*' && line[pos + 1] === '/') {
        if (keepComments) out += '*/';
        pos++;
        this.mlComment = false;
        flush();
        needSpace = true;
        continue;
      }

      // An ordinary character: track executable comments and quotes, then keep it.
      if (!this.inString && ch === '/' && line[pos + 1] === '*') {
        const kind = line[pos + 2] === '!' ? 'exec' : !mariadb && line[pos + 2] === '+' ? 'hint' : '';
        if (kind) ssComment = kind;
        if (!this.mlComment && opensExecutable) this.execOpenedAt = this.mark(pos);
      } else if (!this.inString && ch === '*' && line[pos + 1] === '/') {
        ssComment = '';
        if (!this.mlComment) this.execOpenedAt = null;
      }
      let text = ch;
      if (ch === this.inString) {
        if (ch !== '$') {
          this.inString = '';
        } else if (line.startsWith(this.dollarTag, pos)) {
          this.inString = '';
          text = this.dollarTag;
          pos += this.dollarTag.length - 1;
        }
      } else if (!this.mlComment && !this.inString && ssComment !== 'hint') {
        if (ch === "'" || ch === '"' || ch === '`') {
          this.inString = ch;
          this.openedAt = this.mark(pos);
        } else if (ch === '$' && this.rules.dollarQuotes) {
          const tag = dollarQuoteAt(line, pos);
          if (tag) {
            this.inString = '$';
            this.dollarTag = tag;
            this.openedAt = this.mark(pos);
            text = tag;
            pos += tag.length - 1;
          }
        }
      }
      if (!this.mlComment || keepComments) {
        // A dollar tag is copied but for its last character, which alone gets the space owed after a comment.
        put(text.slice(0, -1), pos - text.length + 1, !this.mlComment && !isSpace(ch));
        if (needSpace && !isSpace(ch)) out += ' ';
        needSpace = false;
        put(text.slice(-1), pos, !this.mlComment && !isSpace(ch));
      }
    }

    if (out || this.buffer) {
      // No line end after a pending "delimiter...", so a DELIMITER after a statement joins the next line.
      if (!startsWithDelimiterWord(out) || this.inString || this.mlComment) out += '\n';
      if (!this.mlComment || keepComments) this.buffer += out;
    }
  }

  /** A position whose column is only counted if a message needs it (quotes open and close all along a dump). */
  private mark(index: number): Mark {
    return { line: this.lineNumber, lineText: this.lineText, index };
  }

  private resolve(mark: Mark): Position {
    if (mark.lineText === this.lineText) return this.positionAt(mark.index);
    const saved = { lineText: this.lineText, counted: this.counted };
    this.lineText = mark.lineText;
    this.counted = { index: 0, column: 1 };
    const column = this.columnAt(mark.index);
    Object.assign(this, saved);
    return { line: mark.line, column };
  }

  private positionAt(index: number): Position {
    return { line: this.lineNumber, column: this.columnAt(index) };
  }

  private columnAt(index: number): number {
    let { index: from, column } = this.counted;
    if (index < from) [from, column] = [0, 1];
    // A low surrogate is the second half of the character before it; in bytes, a UTF-8 continuation byte is.
    const [low, high] = this.input.binary ? [0x80, 0xbf] : [0xdc00, 0xdfff];
    for (let i = from; i < index; i++) {
      const code = this.lineText.charCodeAt(i);
      if (code < low || code > high) column++;
    }
    this.counted = { index, column };
    return column;
  }

  private errorAt(at: Position, reason: string): SqlSplitError {
    return new SqlSplitError(reason, at.line, at.column, this.sourcing.length > 1 ? this.file : undefined);
  }
}
