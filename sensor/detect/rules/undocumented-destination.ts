import { deviceLabel, destinationOf, type Rule } from '../rule.js';

/** A profiled device reached a destination its profile does not list. */
export const undocumentedDestination: Rule = {
  id: 'undocumented-destination',
  summary: 'a device with a profile connects to a name, address or port its profile does not document',
  defaults: { enabled: true, severity: 'medium', mitre: ['T1071'], params: {} },
  evidence: [],
  create: ({ profiles, raise }) => ({
    flow(j) {
      const p = j.profile;
      if (!p || profiles.documents(p, j.flow)) return;
      const f = j.flow;
      const target = f.server_name ?? f.dst_ip;
      raise(j, {
        key: `${target}|${f.proto}|${f.dst_port}`,
        destination: () => destinationOf(j, f.server_name, true),
        message: () => `${deviceLabel(j.device)} (profile ${p.profile}) connected to ${target} on ${f.proto}/${f.dst_port}, which its profile does not document`,
        reason: () =>
          `no entry in profile ${p.profile} documents ${target} ${f.proto}/${f.dst_port}` +
          // AS entries match only a destination whose AS is known: say so when that may be why nothing matched.
          (f.dst_asn === null && profiles.hasAsnEntries(p) ? "; its AS is unknown, so the profile's asn entries cannot match (add an ASN database with --geoip)" : ''),
      });
    },
  }),
};
