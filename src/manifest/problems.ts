// Every validation failure is a Problem that names file:line:column and what was expected.
// Loaders collect them all so `rollgate validate` reports everything in one run.

import { Concealer, type Place } from './conceal.js';

export interface Problem {
  file: string;
  line?: number;
  column?: number;
  message: string;
  /** Set when the gateway's policy forbids what the file asks for: the policy key. */
  rule?: string;
}

export function formatProblem(p: Problem): string {
  const where = p.line === undefined ? p.file : `${p.file}:${p.line}:${p.column ?? 1}`;
  return `${where}: ${p.message}`;
}

/** Thrown when a fleet repo is rejected; carries every problem found. */
export class FleetRepoError extends Error {
  readonly problems: Problem[];
  /**
   * @param gatewayFault set when the repo is fine and the gateway's own settings are at fault (no
   * target matches its id and labels): the settings to fix, e.g. `gateway.id, gateway.labels`
   */
  constructor(
    problems: Problem[],
    readonly gatewayFault?: string,
  ) {
    super(
      `fleet repo rejected (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => '  ' + formatProblem(p)).join('\n'),
    );
    this.name = 'FleetRepoError';
    this.problems = problems;
  }

  /** Every problem is a breach of the gateway's policy (the repo is otherwise fine). */
  get forbidden(): boolean {
    return this.problems.length > 0 && this.problems.every((p) => p.rule !== undefined);
  }
}

/** Collects problems; `bail()` throws if any were added. */
export class Problems {
  readonly list: Problem[] = [];
  /** Every message goes through it: none quotes the gateway's own variables. */
  readonly concealer = new Concealer();
  /** `place`: the value the problem is about, so a string made from hidden variables is shown as written. */
  add(p: Problem, place?: Place): void {
    this.list.push({ ...p, message: this.concealer.conceal(p.message, place) });
  }
  get count(): number {
    return this.list.length;
  }
  bail(): void {
    if (this.list.length > 0) throw new FleetRepoError(this.list);
  }
}
