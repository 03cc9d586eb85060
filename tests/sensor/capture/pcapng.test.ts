// pcapng with several interfaces of different link types is read per
// interface: each packet with its own interface's link type, and tshark sees
// in the merged file exactly what phonehome sees.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture } from '../../helpers/corpus.js';
import { LINKTYPE, reencapsulate } from '../../helpers/encap.js';
import { compareWithTshark } from '../../helpers/oracle.js';
import { readWithPcapParser, writePcap } from '../../helpers/pcap.js';
import { phonehomeView } from '../../helpers/phonehome.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-pcapng-'));

describe('pcapng', () => {
  it('pcapng with several interfaces of different link types is read per interface', async () => {
    const f = fixture('TP-LinkPlugHS110');
    const { packets } = await readWithPcapParser(f);
    const sll = join(tmp, 'iface-sll.pcap');
    writePcap(sll, LINKTYPE.sll, packets.map((p) => reencapsulate(p, 'sll')!));
    const merged = join(tmp, 'two-interfaces.pcapng');
    execFileSync('mergecap', ['-F', 'pcapng', '-w', merged, f, sll]);
    const v = await phonehomeView([merged]);
    expect(v.read[0].linktypes.sort()).toEqual([1, 113]);
    expect(v.read[0].packets).toBe(packets.length * 2);
    expect(await compareWithTshark(merged)).toEqual([]);
  }, 60_000);

  // An interface's snap length smaller than its enhanced packet blocks: tshark reads the blocks whole, and so does phonehome.
  it('reads packets longer than their interface snap length whole, as tshark does', async () => {
    const f = fixture('HueBridge');
    const small = join(tmp, 'snap64.pcap');
    const b = readFileSync(f);
    b.writeUInt32LE(64, 16);
    writeFileSync(small, b);
    const ng = join(tmp, 'snap64.pcapng');
    execFileSync('editcap', ['-F', 'pcapng', small, ng]);
    const shb = readFileSync(ng);
    expect(shb.readUInt32LE(shb.readUInt32LE(4) + 12)).toBe(64); // the interface's snap length
    const v = await phonehomeView([ng]);
    expect(v.read[0].error).toBeNull();
    expect(v.read[0].packets).toBe((await readWithPcapParser(f)).packets.length);
    expect(await compareWithTshark(ng)).toEqual([]);
  }, 60_000);
});
