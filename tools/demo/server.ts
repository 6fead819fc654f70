// Which server the demo runs on: MYSQL_URL if set, else the local default server if it answers,
// else a private server from local mariadbd/mysqld binaries, else a message saying how to get one.
import { UserError } from '../errors';
import { DEFAULT_SERVER_URL, redactUrl, withConnection, withDatabase } from '../sql/connection';
import { serverSupportsPrivateStart, startPrivateServer } from '../harness/private-server';

export interface ChosenServer {
  url: string;
  why: string;
  stop(): Promise<void>;
}

async function answers(url: string): Promise<boolean> {
  try {
    await withConnection(url, (conn) => conn.query('SELECT 1'), { database: null });
    return true;
  } catch {
    return false;
  }
}

export async function chooseServer(explicitUrl?: string): Promise<ChosenServer> {
  const given = explicitUrl ?? process.env.MYSQL_URL;
  if (given) {
    const url = withDatabase(given, null);
    if (!(await answers(url))) throw new UserError(`the server at ${redactUrl(url)} does not answer`);
    return { url, why: explicitUrl ? '--url' : 'MYSQL_URL', stop: async () => undefined };
  }
  if (await answers(DEFAULT_SERVER_URL)) {
    return { url: DEFAULT_SERVER_URL, why: 'the local server on 127.0.0.1:3306 answers', stop: async () => undefined };
  }
  if (serverSupportsPrivateStart()) {
    const server = await startPrivateServer({ label: 'demo' });
    return { url: server.url, why: `no server on 127.0.0.1:3306: started a private ${server.flavour} on port ${server.port}`, stop: () => server.stop() };
  }
  throw new UserError('no MySQL or MariaDB server found: set MYSQL_URL=mysql://user:password@host:port, start one on 127.0.0.1:3306, or install one (apt-get install mariadb-server)');
}
