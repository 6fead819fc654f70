// Configuration as documented (tools/config/README.md): DATABASE_URL overrides the local
// environments (a literal "url": dev, test) and nothing else; qa and prod are reached only
// through their own variables and only when named; an unset variable is a one-line config error.
import { expect } from 'chai';
import { resolveTarget } from '../../tools/config/environments';
import { ExitCode, UserError } from '../../tools/errors';
import { runCli } from '../helpers/cli';
import { useThrowawayDatabase } from '../../tools/harness/mocha';

const refusal = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(UserError);
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
};

describe('config: which database a command targets', function () {
  const db = useThrowawayDatabase({ label: 'config' });
  const local = 'mysql://ci@127.0.0.1:3306/from_database_url';

  it('DATABASE_URL overrides dev and test, and is the default environment\'s target', () => {
    expect(resolveTarget({ env: 'dev' }, { DATABASE_URL: local }).url).to.equal(local);
    expect(resolveTarget({ env: 'test' }, { DATABASE_URL: local }).url).to.equal(local);
    expect(resolveTarget({}, { DATABASE_URL: local })).to.include({ env: 'dev', url: local });
    expect(resolveTarget({ env: 'dev' }, {}).url).to.equal('mysql://root@127.0.0.1:3306/reminderly_dev');
  });

  it('DATABASE_URL never becomes qa\'s or prod\'s target: an unset variable is a config error naming it', () => {
    expect(refusal(() => resolveTarget({ env: 'prod' }, { DATABASE_URL: local })))
      .to.equal('environment "prod" in database.json takes its URL from REMINDERLY_PROD_URL, which is not set');
    expect(refusal(() => resolveTarget({ env: 'qa' }, { DATABASE_URL: local }))).to.match(/REMINDERLY_QA_URL, which is not set/);
    const prod = 'mysql://deploy@10.0.0.9:3306/reminderly';
    expect(resolveTarget({ env: 'prod' }, { REMINDERLY_PROD_URL: prod, DATABASE_URL: local }).url).to.equal(prod);
    expect(refusal(() => resolveTarget({ env: 'staging' }, {}))).to.equal('no environment "staging" in database.json (it has dev, test, qa, prod)');
  });

  it('the CLI: DATABASE_URL reaches the server for --env dev; --env prod without its variable is one line, exit 1', () => {
    // The throwaway database is empty: the server's error names it, so the command went there.
    const list = runCli(['campaign', 'list', '--env', 'dev'], { DATABASE_URL: db.url });
    expect(list.code, list.stderr).to.equal(ExitCode.Failure);
    expect(list.stderr).to.match(new RegExp(`^reminderly-db: campaign list failed: ER_NO_SUCH_TABLE .*'${db.name}\\.campaign_sets'.*\n$`));
    const prod = runCli(['migrate', 'status', '--env', 'prod'], { DATABASE_URL: db.url, REMINDERLY_PROD_URL: '' });
    expect(prod.code).to.equal(ExitCode.Usage);
    expect(prod.stderr).to.equal('reminderly-db: environment "prod" in database.json takes its URL from REMINDERLY_PROD_URL, which is not set\n');
  });
});
