import type { CredentialEvidence } from '../../../contract/types.js';
import type { CredentialFact } from '../../flows/app.js';
import { deviceLabel, destinationOf, type Rule, type SeenFlow } from '../rule.js';

export type CleartextCredentialsParams = {
  show_user: boolean;
};

/** Credentials listed in an alert's evidence at most. */
const MAX_LISTED = 16;

const PROTOCOL_NAMES: Record<CredentialFact['protocol'], string> = {
  telnet: 'a Telnet login',
  ftp: 'an FTP login (USER/PASS)',
  'http-basic': 'HTTP Basic credentials',
  'http-digest': 'HTTP Digest credentials',
  mqtt: 'MQTT CONNECT credentials',
};

const NO_GEO = { country: null, asn: null, as_org: null };

/**
 * A device sends credentials where anyone on the path reads them: a Telnet
 * login (the server prompted for a password and the device typed one), FTP
 * USER/PASS, an HTTP Authorization header (Basic: the password base64-coded;
 * Digest: the user name in clear and a hash an eavesdropper can crack
 * offline), an MQTT CONNECT with a user name or password, to a local host or
 * the Internet. One alert per device, server and protocol. The evidence says
 * that a password was sent and its length, never the password; the user name
 * unless show_user is false. Anonymous FTP is not a credential.
 */
export const cleartextCredentials: Rule<CleartextCredentialsParams> = {
  id: 'cleartext-credentials',
  summary: 'a device sends credentials in clear (Telnet login, FTP USER/PASS, HTTP Basic/Digest, MQTT CONNECT with a user name or password) to any host',
  defaults: { enabled: true, severity: 'medium', mitre: ['T1552', 'T1040'], params: { show_user: true } },
  evidence: ['credentials'],
  create: ({ settings, profiles, raise }) => ({
    seen(s) {
      const device = s.device;
      const sent = s.app?.credentials?.filter(counts);
      if (!device || !sent || sent.length === 0) return;
      const profile = profiles.profileFor(device);
      for (const protocol of new Set(sent.map((c) => c.protocol))) {
        const mine = sent.filter((c) => c.protocol === protocol).map((c) => evidence(c, settings.params.show_user));
        raise({ flow: s.flow, device, profile }, {
          key: `${s.flow.dst_ip}|${protocol}`,
          destination: () => destinationOf({ flow: s.flow, dst: s.dst ?? NO_GEO }, s.flow.server_name, true),
          message: () => `${deviceLabel(device)} sent ${describe(mine[0])} in clear to ${where(s)}`,
          reason: () => reason(protocol),
          evidence: (e) => list(e, mine),
        });
      }
    },
  }),
};

/** A password went out, or (MQTT) a user name alone, which brokers such as ThingsBoard take as the access token. */
const counts = (c: CredentialFact): boolean =>
  (c.password || (c.protocol === 'mqtt' && c.user !== null)) && !(c.protocol === 'ftp' && /^(anonymous|ftp)$/i.test(c.user ?? ''));

function evidence(c: CredentialFact, showUser: boolean): CredentialEvidence {
  return { protocol: c.protocol, user: showUser ? c.user : null, password: c.password, password_length: c.passwordLength };
}

function describe(c: CredentialEvidence): string {
  const parts = [c.user !== null ? `user ${JSON.stringify(c.user)}` : null, c.password_length !== null ? `a ${c.password_length}-character password` : c.password ? 'a password' : null];
  const what = parts.filter((p) => p !== null).join(', ');
  return `${PROTOCOL_NAMES[c.protocol]}${what ? ` (${what})` : ''}`;
}

/** The server as "name (address:port/proto)", the name only when it says more than the address (an HTTP Host may be just that). */
function where(s: SeenFlow): string {
  const f = s.flow;
  const addr = `${f.dst_ip}:${f.dst_port}/${f.proto}`;
  const name = f.server_name !== null && f.server_name !== f.dst_ip && f.server_name !== `${f.dst_ip}:${f.dst_port}` ? f.server_name : null;
  return `${name ? `${name} (${addr})` : addr}${s.ends.dstLocal ? ' on the local network' : ''}`;
}

function reason(protocol: CredentialFact['protocol']): string {
  if (protocol === 'http-digest') return 'HTTP Digest over plain HTTP: the user name travels in clear and the password hash can be cracked offline by anyone on the path';
  return `${PROTOCOL_NAMES[protocol]} travelled unencrypted: anyone on the path can read the password`;
}

/** Adds the flow's credentials to the alert's list, each distinct one once, the first MAX_LISTED. */
function list(e: { credentials?: CredentialEvidence[] }, add: CredentialEvidence[]): void {
  const l = (e.credentials ??= []);
  for (const c of add) {
    if (l.length >= MAX_LISTED) return;
    if (!l.some((x) => x.protocol === c.protocol && x.user === c.user && x.password === c.password && x.password_length === c.password_length)) l.push(c);
  }
}
