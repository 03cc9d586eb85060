import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { DeviceProfile, DocumentedDestination } from '../../contract/types.js';
import { analyze } from '../run/analyze.js';
import { mudToProfile } from '../detect/profiles/mud.js';
import { ProfileError, UsageError } from '../errors.js';
import { loadProfiles } from '../detect/profiles/load.js';
import { profileToYaml } from '../detect/profiles/yaml.js';
import { parse } from './args.js';

export const PROFILES_HELP = `Usage: phonehome profiles <check|import-mud|suggest> ...

  check DIR                    validate every profile (YAML or MUD .json) in DIR
  import-mud FILE [--out FILE] convert an RFC 8520 MUD file to a YAML profile
                               (printed, or written to --out); reports what it cannot map
  suggest --out DIR capture... draft one profile per device from what it was seen
                               to contact (learning mode); review before use

Examples:
  phonehome profiles check rules/devices
  phonehome profiles import-mud lightbulb2000.json --out rules/devices/lightbulb.yaml
  phonehome profiles suggest --out drafts/ week-of-traffic/
`;

export async function runProfiles(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values: v, positionals } = parse(rest, { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (sub === undefined || sub === '--help' || sub === '-h' || v.help) {
    process.stdout.write(PROFILES_HELP);
    return sub === undefined ? 2 : 0;
  }
  switch (sub) {
    case 'check': {
      if (positionals.length !== 1) throw new UsageError('profiles check takes one folder (see phonehome profiles --help)');
      const { profiles, warnings } = loadProfiles(positionals[0]);
      for (const w of warnings) process.stderr.write(`phonehome: note: ${w}\n`);
      process.stdout.write(`${positionals[0]}: ${profiles.length} profile(s) valid: ${profiles.map((p) => p.profile).join(', ')}\n`);
      return 0;
    }
    case 'import-mud': {
      if (positionals.length !== 1) throw new UsageError('profiles import-mud takes one MUD file (see phonehome profiles --help)');
      const file = positionals[0];
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        throw new ProfileError('PROFILE_IO', file, null, `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (e) {
        throw new ProfileError('MUD_INVALID', file, null, `not JSON: ${(e as Error).message}`);
      }
      const { profile, unmapped } = mudToProfile(json, file);
      const header = [`Imported from ${basename(file)} (RFC 8520 MUD) by phonehome profiles import-mud.`, ...unmapped.map((u) => `not mapped: ${u}`)];
      const yaml = profileToYaml(profile, header.join('\n'));
      if (v.out) writeFileSync(v.out, yaml);
      else process.stdout.write(yaml);
      for (const u of unmapped) process.stderr.write(`phonehome: not mapped: ${u}\n`);
      return 0;
    }
    case 'suggest': {
      if (!v.out) throw new UsageError('profiles suggest needs --out DIR for the drafts');
      if (positionals.length === 0) throw new UsageError('profiles suggest needs captures to learn from');
      const result = await analyze(positionals, { profilesDir: null });
      mkdirSync(v.out, { recursive: true });
      let n = 0;
      for (const d of result.devices) {
        if (!d.mac || d.destinations.length === 0) continue;
        const p = draftProfile(d.mac, d.vendor, d.destinations);
        const file = join(v.out, `${p.profile}.yaml`);
        const header = `Drafted by phonehome profiles suggest from ${positionals.join(', ')}:\nwhat ${d.vendor ?? 'this device'} ${d.mac} was seen to contact. Review before use:\nlearning mode documents everything the device did, including what it should not do.`;
        writeFileSync(file, profileToYaml(p, header));
        process.stdout.write(`${file}: ${p.documented.length} destination(s)\n`);
        n++;
      }
      if (n === 0) process.stdout.write('no device contacted the Internet: no drafts written\n');
      return 0;
    }
    default:
      throw new UsageError(`unknown profiles command '${sub}' (check, import-mud, suggest)`);
  }
}

/** One entry per name (or address, when nameless), with the protocols and ports seen. */
export function draftProfile(mac: string, vendor: string | null, destinations: { ip: string; name: string | null; ports: number[]; protos: string[] }[]): DeviceProfile {
  const byTarget = new Map<string, DocumentedDestination>();
  for (const dst of destinations) {
    for (const proto of dst.protos) {
      const target = dst.name ? `domain:${dst.name.toLowerCase()}` : `cidr:${dst.ip}`;
      const k = `${target}|${proto}`;
      const e = byTarget.get(k) ?? { ...(dst.name ? { domain: dst.name.toLowerCase() } : { cidr: dst.ip }), proto, ports: [] };
      for (const port of dst.ports) if (!e.ports!.includes(port)) e.ports!.push(port);
      e.ports!.sort((a, b) => a - b);
      byTarget.set(k, e);
    }
  }
  const slug = `${(vendor ?? 'device').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 24)}-${mac.replace(/:/g, '')}`;
  return {
    profile: slug,
    description: `Drafted from observed traffic of ${vendor ?? 'an unknown vendor'} device ${mac}`,
    match: { mac: [mac] },
    documented: [...byTarget.values()],
  };
}
