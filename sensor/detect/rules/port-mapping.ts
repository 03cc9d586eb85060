import type { PortMappingEvidence } from '../../../contract/types.js';
import type { PortMappingFact } from '../../flows/app.js';
import { deviceLabel, destinationOf, type Rule } from '../rule.js';

/** Mappings listed in an alert's evidence at most. */
const MAX_LISTED = 16;

const METHOD_NAMES: Record<PortMappingFact['method'], string> = { upnp: 'UPnP IGD', 'nat-pmp': 'NAT-PMP', pcp: 'PCP' };

const NO_GEO = { country: null, asn: null, as_org: null };

/**
 * A device asks the gateway to open a port from the Internet to a local
 * host: a UPnP IGD AddPortMapping (or AddAnyPortMapping) SOAP request, a
 * NAT-PMP or a PCP MAP request (requests that remove a mapping do not
 * count). The port a backdoor listens on, or a device exposing itself. One
 * alert per device and mapping asked for, with the external port and
 * protocol, the internal client and port and the lease.
 */
export const portMapping: Rule = {
  id: 'port-mapping',
  summary: 'a device asks the gateway to open a port from the Internet (UPnP IGD AddPortMapping, NAT-PMP, PCP MAP), with the port and protocol asked for',
  defaults: { enabled: true, severity: 'medium', mitre: ['T1599.001'], params: {} },
  evidence: ['port_mappings'],
  create: ({ profiles, raise }) => ({
    seen(s) {
      const device = s.device;
      const asked = s.app?.portMappings;
      if (!device || !asked || asked.length === 0) return;
      const profile = profiles.profileFor(device);
      for (const m of asked) {
        const e = evidence(m);
        raise({ flow: s.flow, device, profile }, {
          key: `${m.method}|${m.protocol}|${m.externalPort}|${m.internalClient}|${m.internalPort}`,
          destination: () => destinationOf({ flow: s.flow, dst: s.dst ?? NO_GEO }, s.flow.server_name, true),
          message: () => `${deviceLabel(device)} asked ${s.flow.dst_ip} (${METHOD_NAMES[m.method]}) to forward ${describe(e)}`,
          reason: () => `a ${METHOD_NAMES[m.method]} request to open a port on the gateway: hosts on the Internet can then connect to ${e.internal_client ?? 'the internal client'}`,
          evidence: (ev) => list(ev, e),
        });
      }
    },
  }),
};

function evidence(m: PortMappingFact): PortMappingEvidence {
  return { method: m.method, protocol: m.protocol, external_port: m.externalPort, internal_client: m.internalClient, internal_port: m.internalPort, lease_s: m.leaseS, description: m.description };
}

function describe(e: PortMappingEvidence): string {
  const ext = e.external_port === null ? 'an external port' : e.external_port === 0 ? 'any external port' : `external port ${e.external_port}`;
  const to = `${e.internal_client ?? '?'}:${e.internal_port ?? '?'}`;
  const lease = e.lease_s === null ? '' : e.lease_s === 0 && e.method === 'upnp' ? ', without expiry' : `, for ${e.lease_s} s`;
  const desc = e.description !== null ? `, described as ${JSON.stringify(e.description)}` : '';
  return `${ext}/${e.protocol ?? '?'} to ${to}${lease}${desc}`;
}

function list(ev: { port_mappings?: PortMappingEvidence[] }, e: PortMappingEvidence): void {
  const l = (ev.port_mappings ??= []);
  if (l.length < MAX_LISTED && !l.some((x) => JSON.stringify(x) === JSON.stringify(e))) l.push(e);
}
