// DnsNameCache: which name a client's DNS answer gave an address. Devices
// keep using addresses past the TTL, so an answer names its address for the
// TTL or an hour, whichever is longer; answers are per client; the table is
// bounded and forgets the answers it heard of longest ago.
import { describe, expect, it } from 'vitest';
import { DnsNameCache } from '../../../sensor/flows/names.js';

const T = 1_700_000_000;
const HOUR = 3600;
const client = '192.168.1.20';
const other = '192.168.1.30';
const server = '93.184.216.34';

describe('DnsNameCache', () => {
  it('an answer with a TTL under an hour names the address for an hour after it came; then the address is still known as resolved', () => {
    const c = new DnsNameCache();
    c.remember(client, server, 'api.example.com', T, 60);
    expect(c.lookup(client, server, T)).toEqual({ name: 'api.example.com', resolved: true });
    expect(c.lookup(client, server, T + 61)).toEqual({ name: 'api.example.com', resolved: true });
    expect(c.lookup(client, server, T + HOUR)).toEqual({ name: 'api.example.com', resolved: true });
    expect(c.lookup(client, server, T + HOUR + 0.001)).toEqual({ name: null, resolved: true });
    // a TTL of 0 (do not cache) is held for the hour as well
    c.remember(client, '93.184.216.35', 'zero.example.com', T, 0);
    expect(c.lookup(client, '93.184.216.35', T + HOUR)).toEqual({ name: 'zero.example.com', resolved: true });
  });

  it('an answer with a TTL over an hour names the address for its TTL', () => {
    const c = new DnsNameCache();
    c.remember(client, server, 'cdn.example.com', T, 86_400);
    expect(c.lookup(client, server, T + 86_400)).toEqual({ name: 'cdn.example.com', resolved: true });
    expect(c.lookup(client, server, T + 86_400.5)).toEqual({ name: null, resolved: true });
  });

  it("answers are per client: another host, or another address, was given nothing", () => {
    const c = new DnsNameCache();
    c.remember(client, server, 'api.example.com', T, 300);
    expect(c.lookup(other, server, T + 1)).toEqual({ name: null, resolved: false });
    expect(c.lookup(client, '93.184.216.99', T + 1)).toEqual({ name: null, resolved: false });
    expect(c.lookup(server, client, T + 1)).toEqual({ name: null, resolved: false });
  });

  it('a later answer renames the address and extends its validity; resolved counts from the first answer', () => {
    const c = new DnsNameCache();
    c.remember(client, server, 'old.example.com', T, 300);
    c.remember(client, server, 'new.example.com', T + 3000, 300);
    expect(c.lookup(client, server, T + 3001)).toEqual({ name: 'new.example.com', resolved: true });
    expect(c.lookup(client, server, T + 3000 + HOUR)).toEqual({ name: 'new.example.com', resolved: true });
    expect(c.lookup(client, server, T + 3000 + HOUR + 1)).toEqual({ name: null, resolved: true });
    // Before the first answer the client had not resolved the address.
    expect(c.lookup(client, server, T - 1).resolved).toBe(false);
  });

  it('bounded: past maxEntries the answers remembered longest ago are forgotten (down to nine tenths); a repeated answer counts as new', () => {
    const c = new DnsNameCache(10);
    const addr = (i: number) => `198.51.100.${i}`;
    for (let i = 0; i < 10; i++) c.remember(client, addr(i), `n${i}.example.com`, T + i, 300);
    // heard again: now the most recent
    c.remember(client, addr(0), 'n0.example.com', T + 20, 300);
    for (let i = 0; i < 10; i++) expect(c.lookup(client, addr(i), T + 21).resolved, addr(i)).toBe(true);
    c.remember(client, addr(10), 'n10.example.com', T + 21, 300);
    // 11 answers, room for 10: the two heard of longest ago go, 9 stay
    const known = Array.from({ length: 11 }, (_, i) => i).filter((i) => c.lookup(client, addr(i), T + 22).resolved);
    expect(known).toEqual([0, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(c.lookup(client, addr(1), T + 22)).toEqual({ name: null, resolved: false });
  });
});
