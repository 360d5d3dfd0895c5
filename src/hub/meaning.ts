// What a condition's status means for the operator, whatever the boolean: Stalled=True is bad,
// Stalled=False is good, Reconciling is work under way, not trouble. The page colours by meaning,
// from this one table, so a healthy fleet is never painted red by a False that is good news.

import type { ConditionStatus, ConditionType } from '../model/index.js';

export type Meaning = 'good' | 'bad' | 'busy' | 'quiet' | 'unknown';

export const CONDITION_MEANING: Readonly<Record<ConditionType, Readonly<Record<ConditionStatus, Meaning>>>> = {
  Ready: { True: 'good', False: 'bad', Unknown: 'unknown' },
  Healthy: { True: 'good', False: 'bad', Unknown: 'unknown' },
  Stalled: { True: 'bad', False: 'good', Unknown: 'unknown' },
  Reconciling: { True: 'busy', False: 'quiet', Unknown: 'unknown' },
};

/** The meaning of a condition's status; a type or status this hub does not know means nothing to colour. */
export function meaningOf(type: string, status: string | undefined): Meaning {
  const row = (CONDITION_MEANING as Record<string, Record<string, Meaning> | undefined>)[type];
  return (status !== undefined && row?.[status]) || 'unknown';
}
