// TEST-ONLY: REMINDERLY_FAILPOINT=<point> makes `migrate up` kill itself with SIGKILL at that
// point, so the fault specs can stop a run exactly where a real kill -9 would be a race (between
// re-creating a routine and giving its grants back, between two statements). Unset in every real
// run; nothing else reads it. Points:
//   after-routine-recreate   right after a routine's CREATE, before its GRANTs
//   after-statement-<n>      right after statement n (1-based) of a file and its ledger row
export function failpoint(point: string): void {
  if (process.env.REMINDERLY_FAILPOINT === point) process.kill(process.pid, 'SIGKILL');
}
