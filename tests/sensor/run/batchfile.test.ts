// A spool file encoded from a batch's parts (the sensor's own batches) is
// byte for byte the file of the whole body, whatever its events hold: the
// checksums are node:crypto's SHA-256 of the body's and each event's UTF-8
// bytes, and the file reads back as that body.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBatchFile, encodeBatchFile, encodeBatchParts, joinBody } from '../../../sensor/run/batchfile.js';

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const PREFIX = '{"batch_id":"b-1","sensor":{"name":"s","version":"1","lag_s":0.5},"events":[';

function checkFile(file: Buffer, events: string[]): void {
  const body = joinBody(PREFIX, events);
  expect(file.equals(encodeBatchFile(body, events))).toBe(true);
  const text = file.toString('utf8');
  const header = JSON.parse(text.slice(0, text.indexOf('\n')));
  expect(header.sha256).toBe(sha256(body));
  expect(header.events).toEqual(events.map((e) => sha256(e).slice(0, 16)));
  expect(decodeBatchFile(text)).toEqual({ ok: true, body });
}

describe('encodeBatchParts', () => {
  it('random events (Latin-1, astral and escaped text) give the file of the joined body, with node:crypto checksums', () => {
    const event = fc.record({ kind: fc.constantFrom('flow', 'dns'), key: fc.string(), data: fc.dictionary(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' })) }).map((e) => JSON.stringify(e));
    fc.assert(fc.property(fc.array(event, { maxLength: 40 }), (events) => checkFile(encodeBatchParts(PREFIX, events), events)), { numRuns: 300, seed: 7 });
  });

  it('a batch larger than the reused buffer, then a small one, are each their own file', () => {
    const big = [JSON.stringify({ kind: 'evidence', key: 'e', data: { pcap_base64: 'A'.repeat(10 << 20), note: '€😀' } })];
    const small = [JSON.stringify({ kind: 'flow', key: 'f', data: { sni: 'caf\u00e9' } })];
    const first = encodeBatchParts(PREFIX, big);
    const second = encodeBatchParts(PREFIX, small);
    checkFile(first, big);
    checkFile(second, small);
  });
});
