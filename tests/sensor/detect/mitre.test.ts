// mitre(): an ATT&CK technique id with its name and tactic, as MITRE's
// Enterprise matrix names them; ids phonehome does not know keep empty names.
// Every technique the shipped rules and rules/detections.yaml tag is named.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG_FILE } from '../../../sensor/detect/config.js';
import { mitre } from '../../../sensor/detect/mitre.js';
import { RULES } from '../../../sensor/detect/rules/index.js';

/** MITRE ATT&CK Enterprise: technique, name, the tactic it is listed under for network-observable behaviour. */
const ATTACK: [string, string, string][] = [
  ['T1071', 'Application Layer Protocol', 'Command and Control'],
  ['T1041', 'Exfiltration Over C2 Channel', 'Exfiltration'],
  ['T1029', 'Scheduled Transfer', 'Exfiltration'],
  ['T1048', 'Exfiltration Over Alternative Protocol', 'Exfiltration'],
  ['T1568', 'Dynamic Resolution', 'Command and Control'],
  ['T1568.002', 'Dynamic Resolution: Domain Generation Algorithms', 'Command and Control'],
  ['T1071.004', 'Application Layer Protocol: DNS', 'Command and Control'],
  ['T1571', 'Non-Standard Port', 'Command and Control'],
  ['T1095', 'Non-Application Layer Protocol', 'Command and Control'],
  ['T1200', 'Hardware Additions', 'Initial Access'],
  ['T1195', 'Supply Chain Compromise', 'Initial Access'],
  ['T1552', 'Unsecured Credentials', 'Credential Access'],
  ['T1040', 'Network Sniffing', 'Credential Access'],
  ['T1599.001', 'Network Boundary Bridging: Network Address Translation Traversal', 'Defense Evasion'],
  ['T1046', 'Network Service Discovery', 'Discovery'],
  ['T1595', 'Active Scanning', 'Reconnaissance'],
  ['T1133', 'External Remote Services', 'Persistence'],
];

describe('mitre', () => {
  it('names the techniques phonehome tags as ATT&CK does, with their tactic', () => {
    for (const [technique, name, tactic] of ATTACK) expect(mitre(technique)).toEqual({ technique, name, tactic });
  });

  it('keeps any other id, sub-techniques included, with empty name and tactic', () => {
    for (const id of ['T1059', 'T1071.001', 'T9999']) expect(mitre(id)).toEqual({ technique: id, name: '', tactic: '' });
  });

  it('every technique the shipped rules and rules/detections.yaml tag has a name and a tactic', () => {
    const shipped = parse(readFileSync(DEFAULT_CONFIG_FILE, 'utf8')) as { rules: Record<string, { mitre?: string[] }> };
    const ids = new Set([...RULES.flatMap((r) => r.defaults.mitre), ...Object.values(shipped.rules).flatMap((r) => r.mitre ?? [])]);
    expect(ids.size).toBeGreaterThan(3);
    for (const id of ids) {
      const t = mitre(id);
      expect(t.name, id).not.toBe('');
      expect(t.tactic, id).not.toBe('');
      expect(ATTACK.find(([tech]) => tech === id), id).toEqual([id, t.name, t.tactic]);
    }
  });
});
