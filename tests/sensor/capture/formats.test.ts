// The same packets give the same flows whatever container or link layer they
// arrive in, and tshark agrees with phonehome on every variant.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../../contract/types.js';
import { fixture } from '../../helpers/corpus.js';
import { LINKTYPE, reencapsulate, type Encap } from '../../helpers/encap.js';
import { compareWithTshark } from '../../helpers/oracle.js';
import { readWithPcapParser, writePcap } from '../../helpers/pcap.js';
import { phonehomeView } from '../../helpers/phonehome.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-formats-'));

/** Captures with DNS, TLS, HTTP, DHCP and mDNS traffic from different devices. */
function samples(): string[] {
  return ['TP-LinkPlugHS110', 'HueBridge', 'EdimaxCam1', 'WeMoSwitch', 'D-LinkCam', 'Withings'].map(fixture);
}

const flowKey = (f: FlowRecord) => `${f.proto} ${f.src_ip}:${f.src_port} ${f.dst_ip}:${f.dst_port} ${f.ts}`;
const sorted = (flows: FlowRecord[]) => [...flows].sort((a, b) => flowKey(a).localeCompare(flowKey(b)));

describe('capture formats', () => {
  let files: string[] = [];
  beforeAll(() => {
    files = samples();
  });

  it('pcap, nanosecond pcap, big-endian pcap, pcapng and gzip give identical flows, DNS and devices', async () => {
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const f of files) {
      const base = join(tmp, basename(f, '.pcap'));
      execFileSync('editcap', ['-F', 'nsecpcap', f, `${base}.ns.pcap`]);
      execFileSync('editcap', ['-F', 'pcapng', f, `${base}.pcapng`]);
      execFileSync('editcap', ['-F', 'pcapng', `${base}.ns.pcap`, `${base}.ns.pcapng`]);
      writeFileSync(`${base}.pcap.gz`, gzipSync(readFileSync(f)));
      writeFileSync(`${base}.pcapng.gz`, gzipSync(readFileSync(`${base}.pcapng`)));
      const { linktype, packets } = await readWithPcapParser(f);
      writePcap(`${base}.be.pcap`, linktype, packets, true);
      const reference = await phonehomeView([f]);
      expect(reference.flows.length).toBeGreaterThan(0);
      for (const variant of ['.ns.pcap', '.pcapng', '.ns.pcapng', '.pcap.gz', '.pcapng.gz', '.be.pcap']) {
        const v = await phonehomeView([base + variant]);
        expect(v.read[0].error, variant).toBeNull();
        expect(v.read[0].packets, variant).toBe(packets.length);
        expect(sorted(v.flows), `${f} as ${variant}`).toEqual(sorted(reference.flows));
        expect(v.dns, `${f} as ${variant}`).toEqual(reference.dns);
        expect(v.devices, `${f} as ${variant}`).toEqual(reference.devices);
      }
    }
  }, 120_000);

  it('pcapng with several interfaces of different link types is read per interface', async () => {
    const f = files[0];
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

  for (const encap of ['sll', 'sll2', 'raw', 'null', 'loop', 'vlan', 'qinq'] as Encap[]) {
    it(`link type ${encap}: tshark agrees, and the IP flows are those of the Ethernet original`, async () => {
      for (const f of files) {
        const { packets } = await readWithPcapParser(f);
        const out = join(tmp, `${basename(f, '.pcap')}-${encap}.pcap`);
        writePcap(out, LINKTYPE[encap], packets.map((p) => reencapsulate(p, encap)).filter((p) => p !== null));
        expect(await compareWithTshark(out), `${f} as ${encap}`).toEqual([]);
        const strip = (fl: FlowRecord[]) =>
          sorted(fl).map((x) => `${x.uid} ${x.community_id} ${x.proto} ${x.src_ip}:${x.src_port} ${x.dst_ip}:${x.dst_port} ${x.src_pkts}/${x.dst_pkts} ${x.server_name}`);
        const original = await phonehomeView([f]);
        const variant = await phonehomeView([out]);
        expect(strip(variant.flows)).toEqual(strip(original.flows));
      }
    }, 120_000);
  }
});
