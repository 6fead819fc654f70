// SHOW GRANTS lines as both servers print them, compared with the plan: what is missing, what is extra.
import { expect } from 'chai';
import { compareGrants, databasePattern, desiredGrants, LiveRoutine, parseGrantLine, routineGrants } from '../../tools/users/grants';
import { accountsFor, passwordsFrom } from '../../tools/users/accounts';
import { UserError } from '../../tools/errors';
import { PROJECT_ROOT } from '../helpers/cli';

const routine = (name: string, extra: Partial<LiveRoutine> = {}): LiveRoutine =>
  ({ name, type: 'PROCEDURE', securityType: 'DEFINER', dataAccess: 'MODIFIES SQL DATA', definer: 'm@%', ...extra });

describe('users: grants', () => {
  it('reads the @grant tags of the project\'s routines: the session routines for the application, reporting and auth; the user-id routines for nobody', () => {
    const live = ['claim_batch', 'complete_batch', 'add_status_update', 'mark_ready', 'mark_packet_ready', 'history_move', 'campaign_set_drop',
      'pipeline_check_campaign', 'session_issue', 'session_revoke', 'session_mark_packet_ready', 'session_mark_ready']
      .map((n) => routine(n)).concat(['campaign_summary', 'session_campaign_summary', 'health_campaigns', 'session_resolve']
        .map((n) => routine(n, { dataAccess: 'READS SQL DATA' })))
      .concat([routine('campaign_table_name', { type: 'FUNCTION', dataAccess: 'READS SQL DATA' })]);
    const byRole = routineGrants(live, PROJECT_ROOT);
    expect(byRole.get('application')!.map((r) => r.name).sort()).to.deep.equal(['add_status_update', 'claim_batch', 'complete_batch',
      'session_campaign_summary', 'session_mark_packet_ready', 'session_mark_ready', 'session_revoke']);
    expect(byRole.get('reporting')!.map((r) => r.name).sort()).to.deep.equal(['health_campaigns', 'session_campaign_summary']);
    expect(byRole.get('auth')!.map((r) => r.name).sort()).to.deep.equal(['session_issue', 'session_revoke']);
  });

  it('refuses a granted routine that runs with the invoker\'s rights, or a reporting routine that modifies data', () => {
    expect(() => routineGrants([routine('claim_batch', { securityType: 'INVOKER' })], PROJECT_ROOT)).to.throw(UserError, /SQL SECURITY INVOKER/);
    expect(() => routineGrants([routine('health_campaigns')], PROJECT_ROOT)).to.throw(UserError, /MODIFIES SQL DATA/);
  });

  it('escapes the wildcards of a database name in a grant', () => {
    expect(databasePattern('reminderly_prod')).to.equal('reminderly\\_prod');
    expect(desiredGrants('migrator', 'a_b', new Map())).to.deep.equal([
      { object: '`a\\_b`.*', privileges: ['ALL PRIVILEGES'], grantOption: true },
      { object: '`a\\_b\\_verify`.*', privileges: ['ALL PRIVILEGES'], grantOption: false },
    ]);
  });

  it('parses SHOW GRANTS lines of both servers; a role grant is not a privilege grant', () => {
    expect(parseGrantLine("GRANT USAGE ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*D909'")).to.deep.equal({ object: '*.*', privileges: ['USAGE'], grantOption: false });
    expect(parseGrantLine('GRANT SELECT (`Host`), INSERT ON `mysql`.`user` TO `u`@`%`')!.privileges).to.deep.equal(['SELECT (`HOST`)', 'INSERT']);
    expect(parseGrantLine('GRANT EXECUTE ON PROCEDURE `d`.`claim_batch` TO `u`@`%` WITH GRANT OPTION'))
      .to.deep.equal({ object: 'PROCEDURE `d`.`claim_batch`', privileges: ['EXECUTE'], grantOption: true });
    expect(parseGrantLine('GRANT `some_role`@`%` TO `u`@`%`')).to.equal(null);
  });

  it('compares: nothing when equal; a narrowed ALL PRIVILEGES is missing; anything else granted is extra', () => {
    const desired = desiredGrants('migrator', 'd', new Map());
    const scratch = 'GRANT ALL PRIVILEGES ON `d\\_verify`.* TO `m`@`%`';
    expect(compareGrants(desired, ['GRANT USAGE ON *.* TO `m`@`%`', 'GRANT ALL PRIVILEGES ON `d`.* TO `m`@`%` WITH GRANT OPTION', scratch])).to.deep.equal({ missing: [], extra: [] });
    expect(compareGrants(desired, ['GRANT SELECT, INSERT ON `d`.* TO `m`@`%` WITH GRANT OPTION', scratch]).missing).to.deep.equal([desired[0]]);
    const app = [{ object: 'PROCEDURE `d`.`claim_batch`', privileges: ['EXECUTE'], grantOption: false }];
    const extra = ['GRANT SELECT ON `d`.`companies` TO `a`@`%`', 'GRANT PROCESS ON *.* TO `a`@`%`', 'GRANT ALTER ROUTINE, EXECUTE ON PROCEDURE `d`.`claim_batch` TO `a`@`%`', 'GRANT `r` TO `a`@`%`'];
    expect(compareGrants(app, extra)).to.deep.equal({ missing: [], extra });
    expect(compareGrants(app, []).missing).to.deep.equal(app);
  });

  it('names accounts and their password variables; a missing variable is named', () => {
    const accounts = accountsFor('reminderly_prod');
    expect(accounts.map((a) => [a.user, a.passwordVariable])).to.deep.equal([
      ['reminderly_prod_migrator', 'REMINDERLY_PROD_MIGRATOR_PASSWORD'],
      ['reminderly_prod_app', 'REMINDERLY_PROD_APP_PASSWORD'],
      ['reminderly_prod_reporting', 'REMINDERLY_PROD_REPORTING_PASSWORD'],
      ['reminderly_prod_auth', 'REMINDERLY_PROD_AUTH_PASSWORD'],
    ]);
    expect(() => passwordsFrom(accounts, { REMINDERLY_PROD_APP_PASSWORD: 'x' }))
      .to.throw(UserError, /REMINDERLY_PROD_MIGRATOR_PASSWORD, REMINDERLY_PROD_REPORTING_PASSWORD, REMINDERLY_PROD_AUTH_PASSWORD/);
    expect(() => accountsFor('a_very_long_prefix_for_users_1')).to.throw(UserError, /longer than 32/);
    expect(() => accountsFor('ok', "x'; DROP")).to.throw(UserError, /host pattern/);
  });
});
