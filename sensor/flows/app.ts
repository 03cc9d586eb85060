/**
 * What a flow's payloads showed beyond the names flows.jsonl carries: facts
 * detection rules read (DNS questions and their outcome, and what later
 * parsers add). Kept on the flow while it lives, handed to detection with its
 * record, never written to flows.jsonl. Bounded per flow: a hostile device
 * controls every byte of it.
 */
export interface AppFacts {
  /** DNS questions the flow carried, in order, at most MAX_DNS_FACTS */
  dns?: DnsFact[];
}

/** One DNS question on a flow and, once its response was seen, how it was answered. */
export interface DnsFact {
  ts: number;
  /** the name asked for, as the message spelt it (lower-cased, escaped by the DNS parser) */
  query: string;
  /** A, AAAA, TXT, NULL, ...; null for a type the parser does not name */
  qtype: string | null;
  /** the response's RCODE (3: NXDOMAIN); null while no response was seen */
  rcode: number | null;
  /** answer records in the response */
  answers: number;
}

/** DNS questions kept per flow: a resolver flow reused for thousands of queries keeps its first ones. */
export const MAX_DNS_FACTS = 64;

/** Records a DNS message on its flow: a question adds a fact, a response completes the question it answers. */
export function addDnsFact(app: AppFacts, ts: number, query: string, qtype: string | null, isResponse: boolean, rcode: number, answers: number): void {
  const list = (app.dns ??= []);
  if (isResponse) {
    for (let i = list.length - 1; i >= 0; i--) {
      const q = list[i];
      if (q.rcode === null && q.query === query) {
        q.rcode = rcode;
        q.answers = answers;
        return;
      }
    }
  }
  // A response whose question was not seen (capture started mid-way) still says how the name was answered.
  if (list.length < MAX_DNS_FACTS) list.push({ ts, query, qtype, rcode: isResponse ? rcode : null, answers: isResponse ? answers : 0 });
}

