// Private MySQL/MariaDB servers for tests that need server-wide settings (performance_schema,
// binary logs, real users and grants) that must not be changed on the shared test server.
// Each server lives in its own temporary directory and never outlives the process that started it:
// exit and signal handlers kill it, and leftovers of killed runs are cleaned up on the next start.
import { ChildProcess, spawn, spawnSync } from 'child_process';
import fs from 'fs';
import net from 'net';
import os from 'os';
import path from 'path';
import mysql from 'mysql2/promise';
import { OperationError } from '../errors';
import { flavourCapabilities, parseServerVersion, PrivateServerRecipe, SERVER_FLAVOURS, ServerFlavour } from '../sql/flavour';

/** Every private server directory starts with this prefix; cleanup never touches anything else. */
export const SERVER_DIR_PREFIX = 'reminderly-server-';

export interface PrivateServerOptions {
  /** Extra server options, after (so overriding) the harness's own, e.g. ['--performance-schema=ON']. */
  args?: string[];
  /** Server binary, a name on PATH or /usr/sbin, or a path. Default: mariadbd, else mysqld. */
  binary?: string;
  /** Shown in the temporary directory's name, to tell servers apart. */
  label?: string;
}

export interface PrivateServer {
  /** mysql://root@127.0.0.1:PORT: root with an empty password, over TCP. */
  url: string;
  port: number;
  /**
   * The server's temporary directory, removed by stop(): the datadir proper is its data/ subfolder
   * (MySQL initialises only an empty one), beside tmp/, the socket, pid file, error.log and output.log.
   */
  dataDir: string;
  pid: number;
  flavour: ServerFlavour;
  /** Shuts the server down and removes its directory; calling it again does nothing. */
  stop(): Promise<void>;
  /**
   * kill -9: the server dies on the spot, as in a crash (nothing flushed, no clean shutdown), and
   * its directory stays for restart(). Resolves once the process is gone.
   */
  kill(): Promise<void>;
  /**
   * Starts the server again on the same data directory with the same options (crash recovery
   * included, after kill()), on the same port when it is still free; url, port and pid follow.
   */
  restart(): Promise<void>;
}

// Files inside a server directory. The owner file ties the server to the process that started it.
const OWNER_FILE = 'owner.pid';
const PID_FILE = 'mysqld.pid';
const SOCKET_FILE = 'mysqld.sock';
const ERROR_LOG = 'error.log';
const OUTPUT_LOG = 'output.log';
const DATA_SUBDIR = 'data';
// Each server gets its own tmpdir: concurrent MariaDB bootstraps sharing /tmp crash now and then (signal 11
// dropping an internal temporary table), and a private tmpdir goes away with the server.
const TMP_SUBDIR = 'tmp';
/** For a server that needs a directory of its own for files (MySQL's secure_file_priv). */
const FILES_SUBDIR = 'files';

export const READY_TIMEOUT_MS = 60_000;
export const STOP_TIMEOUT_MS = 30_000;
const PORT_ATTEMPTS = 5;

const SEARCH_DIRS = ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'];

function findExecutable(name: string, extraDirs: string[] = []): string | null {
  if (name.includes('/')) return isExecutable(name) ? path.resolve(name) : null;
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...extraDirs, ...SEARCH_DIRS];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

function firstExecutable(names: readonly string[], extraDirs: string[] = []): string | null {
  for (const name of names) {
    const found = findExecutable(name, extraDirs);
    if (found) return found;
  }
  return null;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

interface ServerTools {
  binary: string;
  flavour: ServerFlavour;
  recipe: PrivateServerRecipe;
  /** The tool that initialises the datadir (e.g. mariadb-install-db); null: the server binary itself (MySQL). */
  installer: string | null;
}

/** The server binaries looked for when none is given, e.g. mariadbd, else mysqld. */
export const DEFAULT_BINARIES = SERVER_FLAVOURS.map((f) => flavourCapabilities(f).privateServer.binary);

function findServerTools(binaryOption?: string): ServerTools | null {
  const binary = binaryOption ? findExecutable(binaryOption) : firstExecutable(DEFAULT_BINARIES);
  if (!binary) return null;
  // The name says nothing: Debian's mysqld is a link to mariadbd. Ask the binary.
  const { flavour } = parseServerVersion(spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout ?? '');
  const recipe = flavourCapabilities(flavour).privateServer;
  if (recipe.installers.length === 0) return { binary, flavour, recipe, installer: null };
  const besideBinary = [path.dirname(binary), path.join(path.dirname(binary), '..', 'bin')];
  const installer = firstExecutable(recipe.installers, besideBinary);
  return installer ? { binary, flavour, recipe, installer } : null;
}

/** The flavour of the server binary private servers would run, or null when none can start. */
export function privateServerFlavour(binary?: string): ServerFlavour | null {
  return findServerTools(binary)?.flavour ?? null;
}

/** Whether this machine can start private servers (a server binary and its initialisation tool). */
export function serverSupportsPrivateStart(binary?: string): boolean {
  return findServerTools(binary) !== null;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed server whose new parent has not reaped it yet is a zombie: it holds no port or files.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return true;
  }
}

function readPid(file: string): number | null {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Pids get reused: only a process whose command line names the directory is its server. */
function isServerOf(pid: number, dir: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir + path.sep);
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- Servers of this process, killed when it exits -------------------------------------------

const running = new Map<ChildProcess, string>();
/** Directories of servers killed by kill() and not restarted yet: removed at exit too. */
const awaitingRestart = new Set<string>();
let exitHandlersInstalled = false;

const hasExited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

/** Synchronous, because the 'exit' event allows nothing else. The data is thrown away anyway. */
function killRunningServers(): void {
  for (const [child, dir] of running) {
    // Only a child not yet reaped: the pid of one that exited may already belong to another process.
    if (!hasExited(child)) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
  running.clear();
  for (const dir of awaitingRestart) fs.rmSync(dir, { recursive: true, force: true });
  awaitingRestart.clear();
}

function installExitHandlers(): void {
  if (exitHandlersInstalled) return;
  exitHandlersInstalled = true;
  process.on('exit', killRunningServers);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = () => {
      killRunningServers();
      // A listener replaces the default action (exit); restore it unless someone else handles the signal.
      process.removeListener(signal, onSignal);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

// ---- Leftovers of killed runs ------------------------------------------------------------------

/** A directory whose owner file is still missing this long after creation was abandoned mid-start. */
const ORPHAN_GRACE_MS = 10 * 60_000;

/**
 * Removes server directories left by processes that died without cleaning up, killing their server
 * if it still runs. Directories of live processes are left alone. Returns the removed directories.
 */
export async function cleanLeftoverServers(tmpDir = os.tmpdir()): Promise<string[]> {
  const removed: string[] = [];
  for (const entry of fs.readdirSync(tmpDir)) {
    if (!entry.startsWith(SERVER_DIR_PREFIX)) continue;
    const dir = path.join(tmpDir, entry);
    const owner = readPid(path.join(dir, OWNER_FILE));
    if (owner === null ? !olderThan(dir, ORPHAN_GRACE_MS) : owner === process.pid || processAlive(owner)) continue;
    const server = readPid(path.join(dir, PID_FILE));
    if (server !== null && processAlive(server) && isServerOf(server, dir)) {
      process.kill(server, 'SIGKILL');
      await waitUntil(() => !processAlive(server), 10_000);
    }
    fs.rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

function olderThan(file: string, ms: number): boolean {
  try {
    return Date.now() - fs.statSync(file).mtimeMs > ms;
  } catch {
    return false;
  }
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

let leftoversCleaned: Promise<unknown> | null = null;

// ---- Starting and stopping ---------------------------------------------------------------------

export async function startPrivateServer(options: PrivateServerOptions = {}): Promise<PrivateServer> {
  const tools = findServerTools(options.binary);
  if (!tools) {
    throw new OperationError(`cannot start a private server: no ${options.binary ?? DEFAULT_BINARIES.join(' or ')} binary with its initialisation tool found`);
  }
  leftoversCleaned ??= cleanLeftoverServers().catch(() => undefined);
  await leftoversCleaned;
  installExitHandlers();

  const label = (options.label ?? '').toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 16);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), SERVER_DIR_PREFIX + (label ? label + '-' : '')));
  try {
    fs.writeFileSync(path.join(dir, OWNER_FILE), String(process.pid));
    await initialise(tools, dir);
    const args = options.args ?? [];
    return serverHandle(tools, dir, args, await launchOnFreePort(tools, dir, args));
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

const runningAsRoot = () => process.getuid?.() === 0;

async function initialise(tools: ServerTools, dir: string): Promise<void> {
  fs.mkdirSync(path.join(dir, TMP_SUBDIR));
  const common = [...(runningAsRoot() ? ['--user=root'] : []), `--datadir=${path.join(dir, DATA_SUBDIR)}`, `--tmpdir=${path.join(dir, TMP_SUBDIR)}`];
  const command = tools.installer ?? tools.binary;
  const args = [...tools.recipe.initialiseArgs, ...common];
  const { code, output } = await run(command, args);
  if (code !== 0) {
    // mariadb-install-db ends a failure with pages of generic advice: the error lines say what happened.
    const errors = output.split('\n').filter((line) => /\[ERROR\]/.test(line)).join('\n');
    throw new OperationError(`initialising a private server failed (${path.basename(command)} exit ${code}):\n${errors || tail(output)}`);
  }
}

function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** Asks the kernel for a free port. Another process may take it before the server binds it: see launchOnFreePort. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Another process took the port between freePort() and the server's bind: worth another port. */
class PortTaken extends OperationError {}

/** One run of the server process; a restart is another run on the same directory. */
interface Launched {
  child: ChildProcess;
  exited: Promise<void>;
  port: number;
  pid: number;
}

async function launchOnFreePort(tools: ServerTools, dir: string, extraArgs: string[], preferredPort?: number): Promise<Launched> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(tools, dir, attempt === 1 && preferredPort ? preferredPort : await freePort(), extraArgs);
    } catch (err) {
      if (!(err instanceof PortTaken) || attempt === PORT_ATTEMPTS) throw err;
    }
  }
}

/** The PrivateServer handle over the runs of one server directory. */
function serverHandle(tools: ServerTools, dir: string, extraArgs: string[], first: Launched): PrivateServer {
  let current: Launched | null = first;
  let stopping: Promise<void> | null = null;
  const handle: PrivateServer = {
    url: `mysql://root@127.0.0.1:${first.port}`, port: first.port, dataDir: dir, pid: first.pid, flavour: tools.flavour,
    stop: () => (stopping ??= (async () => {
      const run = current;
      current = null;
      if (run && !hasExited(run.child)) {
        run.child.kill('SIGTERM');
        const killer = setTimeout(() => run.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await run.exited;
        clearTimeout(killer);
      }
      if (run) running.delete(run.child);
      awaitingRestart.delete(dir);
      fs.rmSync(dir, { recursive: true, force: true });
    })()),
    async kill() {
      if (stopping) throw new OperationError('kill(): the private server was stopped');
      const run = current;
      if (!run) return;
      current = null;
      // Kept for restart(), and removed at exit if no restart comes.
      awaitingRestart.add(dir);
      if (!hasExited(run.child)) run.child.kill('SIGKILL');
      await run.exited;
      running.delete(run.child);
    },
    // `this`, not `handle`: usePrivateServer() hands out a copy of the handle, whose url must follow.
    async restart(this: PrivateServer) {
      if (stopping) throw new OperationError('restart(): the private server was stopped');
      if (current) await this.kill();
      const next = await launchOnFreePort(tools, dir, extraArgs, this.port);
      awaitingRestart.delete(dir);
      current = next;
      Object.assign(this, { url: `mysql://root@127.0.0.1:${next.port}`, port: next.port, pid: next.pid });
    },
  };
  return handle;
}

function serverArgs(tools: ServerTools, dir: string, port: number): string[] {
  return [
    '--no-defaults',
    ...(runningAsRoot() ? ['--user=root'] : []),
    `--datadir=${path.join(dir, DATA_SUBDIR)}`,
    `--tmpdir=${path.join(dir, TMP_SUBDIR)}`,
    '--bind-address=127.0.0.1',
    // Clients are matched by address, so TCP logins are root@127.0.0.1 and no DNS lookup can stall them.
    '--skip-name-resolve',
    `--port=${port}`,
    `--socket=${path.join(dir, SOCKET_FILE)}`,
    `--pid-file=${path.join(dir, PID_FILE)}`,
    `--log-error=${path.join(dir, ERROR_LOG)}`,
    '--innodb-buffer-pool-size=32M',
    ...tools.recipe.serverArgs(path.join(dir, FILES_SUBDIR)),
  ];
}

async function launch(tools: ServerTools, dir: string, port: number, extraArgs: string[]): Promise<Launched> {
  // Logs start afresh, so that what an attempt reports is about that attempt only.
  for (const log of [ERROR_LOG, OUTPUT_LOG]) fs.rmSync(path.join(dir, log), { force: true });
  if (tools.recipe.needsFilesDir) fs.mkdirSync(path.join(dir, FILES_SUBDIR), { recursive: true });
  const output = fs.openSync(path.join(dir, OUTPUT_LOG), 'a');
  let child: ChildProcess;
  try {
    child = spawn(tools.binary, [...serverArgs(tools, dir, port), ...extraArgs], { stdio: ['ignore', output, output] });
  } finally {
    fs.closeSync(output);
  }
  const exited = new Promise<void>((resolve) => {
    child.on('exit', () => resolve());
    child.on('error', () => resolve());
  });
  // Unref'd so that a forgotten stop() cannot keep the test process alive; the exit handler kills it.
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new OperationError(`cannot run ${tools.binary}`);
  running.set(child, dir);
  // Written at once, because the server writes its own pid file only later: if this process is killed
  // in between, cleanLeftoverServers still finds the server.
  fs.writeFileSync(path.join(dir, PID_FILE), String(pid));

  try {
    await waitUntilReady(dir, () => hasExited(child));
    await allowRootOverTcp(dir);
  } catch (err) {
    // A failed attempt stops its server but keeps the initialised directory for the next port.
    if (!hasExited(child)) child.kill('SIGKILL');
    await exited;
    running.delete(child);
    throw err;
  }
  return { child, exited, port, pid };
}

async function waitUntilReady(dir: string, hasExited: () => boolean): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (hasExited()) {
      const log = serverLog(dir);
      const message = `private server exited during startup:\n${tail(log)}`;
      throw /Address already in use/i.test(log) ? new PortTaken(message) : new OperationError(message);
    }
    if (await socketAnswers(dir)) return;
    if (Date.now() > deadline) {
      throw new OperationError(`private server not accepting connections after ${READY_TIMEOUT_MS / 1000} s:\n${tail(serverLog(dir))}`);
    }
    await sleep(100);
  }
}

/** Root through the socket: root@localhost is the one account both initialisations create. */
function socketConnection(dir: string): Promise<mysql.Connection> {
  return mysql.createConnection({ socketPath: path.join(dir, SOCKET_FILE), user: 'root', password: '', connectTimeout: 5_000 });
}

async function socketAnswers(dir: string): Promise<boolean> {
  try {
    const conn = await socketConnection(dir);
    await conn.end();
    return true;
  } catch {
    return false;
  }
}

/** MySQL's --initialize-insecure creates only root@localhost, but the harness connects over TCP. */
async function allowRootOverTcp(dir: string): Promise<void> {
  const conn = await socketConnection(dir);
  try {
    await conn.query("CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'");
    await conn.query("GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION");
  } finally {
    await conn.end().catch(() => conn.destroy());
  }
}

function serverLog(dir: string): string {
  return [ERROR_LOG, OUTPUT_LOG]
    .map((file) => {
      try {
        return fs.readFileSync(path.join(dir, file), 'utf8');
      } catch {
        return '';
      }
    })
    .join('');
}

function tail(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
