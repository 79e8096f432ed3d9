import type { AlertCommandAction } from '@meterstream/contracts';
import type { AlertRow } from '@meterstream/read-model';
import { toIso } from '../common/time';

/**
 * Which command makes sense for an alert in its current state. Returns why not (the API answers
 * 409 with it, saying what to do instead), `'unchanged'` when the command would change nothing
 * (acknowledging an acknowledged alert: answered with the alert, nothing appended), or undefined
 * when the command is to be appended.
 */
export function refusal(alert: AlertRow, action: AlertCommandAction): string | 'unchanged' | undefined {
  const id = `alert "${alert.alertId}"`;
  const closed = alert.closedAt === null ? '' : `${id} was closed by ${alert.closedBy ?? 'someone'} at ${toIso(alert.closedAt)}`;
  switch (action) {
    case 'acknowledge':
      if (closed) return `${closed}; reopen it first (POST /alerts/${alert.alertId}/reopen) to acknowledge it`;
      if (alert.state === 'cleared') return `${id} cleared at ${toIso(alert.updatedAt)}; only open alerts can be acknowledged`;
      return alert.state === 'acknowledged' ? 'unchanged' : undefined;
    case 'close':
      if (closed) return `${closed}; it is closed already (POST /alerts/${alert.alertId}/reopen reopens it)`;
      if (alert.state === 'cleared') return `${id} cleared by itself at ${toIso(alert.updatedAt)}; only open alerts can be closed`;
      return undefined;
    case 'reopen':
      return closed ? undefined : `${id} is ${alert.state}, not closed; only a closed alert can be reopened`;
  }
}
