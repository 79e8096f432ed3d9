import type { AlertCommandBody, AlertState } from '@meterstream/contracts';

/**
 * What an alert looks like to the people who handle it: the rule's state (raised, cleared)
 * combined with their decisions from the `alert-commands` stream. `closed` (an operator ended it)
 * wins over everything; then `cleared` (the rule saw the condition end); then `acknowledged`.
 * `open` in queries means raised or acknowledged.
 */
export type AlertStatus = 'raised' | 'acknowledged' | 'cleared' | 'closed';

/** The operators' decisions about one alert, as the read model keeps them (null: not decided). */
export interface AlertDecisions {
  acknowledgedBy: string | null;
  /** Epoch ms (the API's clock when it accepted the command). */
  acknowledgedAt: number | null;
  /** The acknowledgement's note. */
  note: string | null;
  closedBy: string | null;
  closedAt: number | null;
  /** Why it was closed. */
  reason: string | null;
}

export const NO_DECISIONS: AlertDecisions = Object.freeze({ acknowledgedBy: null, acknowledgedAt: null, note: null, closedBy: null, closedAt: null, reason: null });

/**
 * The decisions after one command, in the order the stream holds them (a line's commands are
 * one partition, so replay applies them in the same order): the first acknowledgement counts and
 * later ones change nothing; a close applies to an alert that is not closed; a reopen removes the
 * closure (the acknowledgement stays). A command that changes nothing returns `decisions` itself.
 * The API refuses what makes no sense (closing a closed alert) before it appends; this fold still
 * takes anything the stream holds, so what was appended always applies the same way.
 */
export function applyAlertCommand(decisions: AlertDecisions, command: AlertCommandBody): AlertDecisions {
  switch (command.action) {
    case 'acknowledge':
      if (decisions.acknowledgedAt !== null) return decisions;
      return { ...decisions, acknowledgedBy: command.by, acknowledgedAt: command.at, note: command.note ?? null };
    case 'close':
      if (decisions.closedAt !== null) return decisions;
      return { ...decisions, closedBy: command.by, closedAt: command.at, reason: command.reason ?? null };
    case 'reopen':
      if (decisions.closedAt === null) return decisions;
      return { ...decisions, closedBy: null, closedAt: null, reason: null };
    default:
      // An action from a newer version: nothing this version knows how to apply.
      return decisions;
  }
}

/** What the alert is, given the rule's state and the decisions. */
export function alertStatus(ruleState: AlertState, decisions: AlertDecisions): AlertStatus {
  if (decisions.closedAt !== null) return 'closed';
  if (ruleState === 'cleared') return 'cleared';
  return decisions.acknowledgedAt !== null ? 'acknowledged' : 'raised';
}

/**
 * The rule's lifecycle only moves forward: raised (0) → cleared (1); events of the same rank
 * replace each other by event time (an escalation after the raise). Anything else an older
 * version wrote to the alerts stream (an `acknowledged` event) counts as raised.
 */
export function ruleStateRank(state: string): number {
  return state === 'cleared' ? 1 : 0;
}

/** The rule state of an alert event; an older `acknowledged` event is a raised alert. */
export function ruleStateOf(state: string): AlertState {
  return state === 'cleared' ? 'cleared' : 'raised';
}

export function decisionsOf(row: Partial<AlertDecisions>): AlertDecisions {
  return {
    acknowledgedBy: row.acknowledgedBy ?? null,
    acknowledgedAt: row.acknowledgedAt ?? null,
    note: row.note ?? null,
    closedBy: row.closedBy ?? null,
    closedAt: row.closedAt ?? null,
    reason: row.reason ?? null,
  };
}
