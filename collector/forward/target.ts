import type { Severity } from '../../contract/types.js';

/** A receiver of forwarded alerts. `send` resolves once the receiver took the whole batch, and rejects otherwise. */
export interface ForwardTarget {
  /** the metrics' and the outbox's name for it: syslog or webhook */
  readonly name: string;
  send(docs: { json: string; severity: Severity }[]): Promise<void>;
}
