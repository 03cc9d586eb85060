import type { MitreTechnique } from '../../contract/types.js';

/** ATT&CK techniques phonehome's rules are tagged with; other ids are accepted with empty names. */
const TECHNIQUES: Record<string, Omit<MitreTechnique, 'technique'>> = {
  T1071: { name: 'Application Layer Protocol', tactic: 'Command and Control' },
  T1041: { name: 'Exfiltration Over C2 Channel', tactic: 'Exfiltration' },
  T1029: { name: 'Scheduled Transfer', tactic: 'Exfiltration' },
  T1048: { name: 'Exfiltration Over Alternative Protocol', tactic: 'Exfiltration' },
  T1568: { name: 'Dynamic Resolution', tactic: 'Command and Control' },
  'T1568.002': { name: 'Dynamic Resolution: Domain Generation Algorithms', tactic: 'Command and Control' },
  'T1071.004': { name: 'Application Layer Protocol: DNS', tactic: 'Command and Control' },
  T1571: { name: 'Non-Standard Port', tactic: 'Command and Control' },
  T1095: { name: 'Non-Application Layer Protocol', tactic: 'Command and Control' },
  T1200: { name: 'Hardware Additions', tactic: 'Initial Access' },
  T1195: { name: 'Supply Chain Compromise', tactic: 'Initial Access' },
  T1552: { name: 'Unsecured Credentials', tactic: 'Credential Access' },
  T1040: { name: 'Network Sniffing', tactic: 'Credential Access' },
  'T1599.001': { name: 'Network Boundary Bridging: Network Address Translation Traversal', tactic: 'Defense Evasion' },
  T1046: { name: 'Network Service Discovery', tactic: 'Discovery' },
  T1595: { name: 'Active Scanning', tactic: 'Reconnaissance' },
  T1133: { name: 'External Remote Services', tactic: 'Persistence' },
};

export function mitre(id: string): MitreTechnique {
  const t = TECHNIQUES[id];
  return { technique: id, name: t?.name ?? '', tactic: t?.tactic ?? '' };
}
