// pcapng with several interfaces of different link types is read per
// interface: each packet with its own interface's link type, and tshark sees
// in the merged file exactly what phonehome sees.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
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
});
