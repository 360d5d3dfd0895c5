// An agent at rest: started, done with what it had to do, and polling a branch that does not move.

import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentProcess } from './agent-process.js';

async function unchangedPolls(metrics: string): Promise<number> {
  const text = await (await fetch(metrics)).text();
  return Number(/rollgate_polls_total\{result="unchanged"\} (\d+)/.exec(text)?.[1] ?? 0);
}

/** Waits until the agent has counted `polls` more polls that found the branch where it was. */
export async function atRest(agent: AgentProcess, polls = 3, ms = 60_000): Promise<void> {
  const metrics = await agent.metricsUrl();
  const end = Date.now() + ms;
  const from = await unchangedPolls(metrics);
  while ((await unchangedPolls(metrics)) < from + polls) {
    if (!agent.running) throw new Error(`the agent exited while waiting for it to rest:\n${agent.text()}`);
    if (Date.now() > end) throw new Error(`the agent did not poll ${polls} times at rest:\n${agent.text()}`);
    await sleep(100);
  }
}
