import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { SpoolFullError, SpoolNoSpaceError } from '../errors.js';
import { decodeBatchFile, splitBody } from './batchfile.js';
import type { Spool } from './spool.js';

const REJECTED_RE = /^\d{16}\.json$/;

/**
 * --resend-rejected: moves every batch of the spool's rejected/ folder back
 * into the queue, oldest first, with new sequence numbers and a new head
 * (prefix: a body up to its events array), so they are delivered again. The
 * events are sent byte for byte as they were. A garbled original
 * (<seq>.garbled) is left for a human: what could be read of it was sent
 * already. Returns how many batches and events were queued.
 */
export function requeueRejected(spool: Spool, prefix: () => string, log: Logger): { batches: number; events: number } {
  const names = readdirSync(spool.rejectedDir).sort();
  let batches = 0;
  let events = 0;
  for (const name of names) {
    const path = join(spool.rejectedDir, name);
    if (!REJECTED_RE.test(name)) {
      if (name.endsWith('.garbled')) log.warn({ file: path }, 'garbled spool file left in rejected/ for a human: what could be read of it was sent when it was found');
      continue;
    }
    const text = readFileSync(path, 'utf8');
    const decoded = decodeBatchFile(text);
    const split = decoded.ok ? splitBody(decoded.body) : null;
    if (!split) {
      log.error({ file: path }, `${path} is not a batch phonehome can read: left in rejected/`);
      continue;
    }
    try {
      spool.appendEvents(prefix(), split.events);
    } catch (e) {
      if (!(e instanceof SpoolFullError) && !(e instanceof SpoolNoSpaceError)) throw e;
      log.error({ file: path, code: e.code }, `${e.message}: the rest of rejected/ stays there; run --resend-rejected again once the spool has room`);
      break;
    }
    rmSync(path, { force: true });
    batches++;
    events += split.events.length;
  }
  if (batches > 0) log.info({ batches, events, from: spool.rejectedDir }, `--resend-rejected: ${events} events in ${batches} batch(es) moved back into the queue`);
  return { batches, events };
}
